// A non-root user restoring again over a restored tree whose directories are read-only
// (mode 555, say, as the snapshot recorded them): rsync makes such a directory writable
// for the time it changes it, and so does restore. Runs the CLI as `nobody` (from root).
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readXattrs, removeXattr, setXattr } from '../../src/core/xattrs.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import {
  cairnBin,
  interruptCairn,
  requireBinary,
  UNENCRYPTED_ENV,
} from '../helpers/reliability.js';

const isRoot = process.getuid?.() === 0;
const nobody = { uid: 65534, gid: 65534 };

/** Makes `dir` and everything below it `nobody`'s. */
function giveToNobody(dir: string): void {
  chownSync(dir, nobody.uid, nobody.gid);
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, name.name);
    if (name.isDirectory()) giveToNobody(path);
    else chownSync(path, nobody.uid, nobody.gid);
  }
}

/**
 * A folder of `nobody`'s holding `src`, `repo`, `cache` and `target`, and `run`, which
 * runs the CLI as `nobody` there and expects exit 0. `prepare` fills `src` and `target`
 * (as root) before they are given away.
 */
async function nobodysFolders(prepare: (src: string, target: string) => Promise<void>) {
  requireBinary();
  const base = await tempDir();
  await chmod(base, 0o755);
  const src = join(base, 'src');
  const target = join(base, 'target');
  for (const d of ['src', 'repo', 'cache', 'target']) mkdirSync(join(base, d));
  await prepare(src, target);
  giveToNobody(base);
  const env = {
    CAIRN_REPO: join(base, 'repo'),
    CAIRN_CACHE_DIR: join(base, 'cache'),
    CAIRN_STATE_DIR: join(base, 'state'), // nobody's own
    ...UNENCRYPTED_ENV,
  };
  const run = async (...args: string[]) => {
    const r = await cairnBin(args, env, nobody);
    expect(r.code, r.stderr).toBe(0);
    return r;
  };
  return { base, src, target, env, run };
}

/**
 * Backs up `src` into `nobody`'s repository of `base` as root (who reads everything),
 * then gives the repository and cache back to `nobody`.
 */
async function backUpAsRoot(base: string, src: string, env: NodeJS.ProcessEnv): Promise<void> {
  const asRoot = await cairnBin(['backup', src], env);
  expect(asRoot.code, asRoot.stderr).toBe(0);
  giveToNobody(join(base, 'repo'));
  giveToNobody(join(base, 'cache'));
}

describe('restore over read-only directories, not as root', () => {
  it.skipIf(!isRoot)(
    'replaces changed files and deletes extras in them, and gives them their modes back',
    async () => {
      requireBinary();
      const base = await tempDir();
      await chmod(base, 0o755);
      const src = join(base, 'src');
      await mkdir(join(src, 'ro', 'deeper'), { recursive: true });
      await writeFile(join(src, 'ro', 'f'), 'snapshot content\n');
      await writeFile(join(src, 'ro', 'deeper', 'g'), 'deeper\n');
      for (const d of ['repo', 'cache', 'target']) mkdirSync(join(base, d));
      giveToNobody(base);
      chmodSync(join(src, 'ro', 'deeper'), 0o555);
      chmodSync(join(src, 'ro'), 0o555);
      const env = {
        CAIRN_REPO: join(base, 'repo'),
        CAIRN_CACHE_DIR: join(base, 'cache'),
        CAIRN_STATE_DIR: join(base, 'state'), // nobody's own
        ...UNENCRYPTED_ENV,
      };
      const run = async (...args: string[]) => {
        const r = await cairnBin(args, env, nobody);
        expect(r.code, r.stderr).toBe(0);
        return r;
      };
      const target = join(base, 'target');
      await run('init', '--no-encryption');
      await run('backup', src);
      await run('restore', 'latest', '--target', target);
      expect(lstatSync(join(target, 'ro')).mode & 0o777).toBe(0o555);

      // Local edits in the read-only folders, made as their owner would.
      chmodSync(join(target, 'ro'), 0o755);
      chmodSync(join(target, 'ro', 'deeper'), 0o755);
      await writeFile(join(target, 'ro', 'f'), 'local edit\n');
      await writeFile(join(target, 'ro', 'extra'), 'extra\n');
      await mkdir(join(target, 'ro', 'extra-dir', 'inner'), { recursive: true });
      await writeFile(join(target, 'ro', 'extra-dir', 'inner', 'x'), 'x\n');
      giveToNobody(target);
      chmodSync(join(target, 'ro', 'extra-dir', 'inner'), 0o555);
      chmodSync(join(target, 'ro', 'extra-dir'), 0o555);
      chmodSync(join(target, 'ro', 'deeper'), 0o555);
      chmodSync(join(target, 'ro'), 0o555);

      // A dry run changes nothing, modes included.
      await run('restore', 'latest', '--target', target, '--delete', '--dry-run');
      expect(lstatSync(join(target, 'ro')).mode & 0o777).toBe(0o555);
      expect(readFileSync(join(target, 'ro', 'f'), 'utf8')).toBe('local edit\n');

      const r = await run('restore', 'latest', '--target', target, '--delete');
      expect(r.stderr).toBe('');
      expect(readFileSync(join(target, 'ro', 'f'), 'utf8')).toBe('snapshot content\n');
      expect(readdirSync(join(target, 'ro')).sort()).toEqual(['deeper', 'f']);
      expect(readFileSync(join(target, 'ro', 'deeper', 'g'), 'utf8')).toBe('deeper\n');
      expect(lstatSync(join(target, 'ro')).mode & 0o777).toBe(0o555);
      expect(lstatSync(join(target, 'ro', 'deeper')).mode & 0o777).toBe(0o555);
      // And once more over its own output, nothing to change.
      const again = await run('restore', 'latest', '--target', target);
      expect(again.stderr).toBe('');
      chmodSync(join(src, 'ro', 'deeper'), 0o755);
      chmodSync(join(src, 'ro'), 0o755);
      for (const d of [join(target, 'ro'), join(target, 'ro', 'deeper')]) chmodSync(d, 0o755);
    },
  );

  it.skipIf(!isRoot)('restores again over a file of mode 000 it restored (exit 0)', async () => {
    const { base, src, target, env, run } = await nobodysFolders(async (from) => {
      await writeFile(join(from, 'closed'), 'no one may read this\n');
    });
    chmodSync(join(src, 'closed'), 0o000);
    await run('init', '--no-encryption');
    // Backed up as root reads it; the user restores it as its owner.
    await backUpAsRoot(base, src, env);
    await run('restore', 'latest', '--target', target);
    expect(lstatSync(join(target, 'closed')).mode & 0o777).toBe(0o000);
    const again = await run('restore', 'latest', '--target', target);
    expect(again.stderr).toBe('');
    expect(lstatSync(join(target, 'closed')).mode & 0o777).toBe(0o000);
    chmodSync(join(target, 'closed'), 0o600);
    expect(readFileSync(join(target, 'closed'), 'utf8')).toBe('no one may read this\n');
  });

  it.skipIf(!isRoot)(
    'restores into a target it owns but made read-only, and puts its mode back',
    async () => {
      const { src, target, run } = await nobodysFolders(async (from, to) => {
        await mkdir(join(from, 'sub'));
        await writeFile(join(from, 'f'), 'top\n');
        await writeFile(join(from, 'sub', 'g'), 'below\n');
        await writeFile(join(to, 'f'), 'stale\n');
        await writeFile(join(to, 'extra'), 'extra\n');
      });
      chmodSync(target, 0o550);
      await run('init', '--no-encryption');
      await run('backup', src);

      await run('restore', 'latest', '--target', target, '--delete', '--dry-run');
      expect(lstatSync(target).mode & 0o777).toBe(0o550);
      expect(readFileSync(join(target, 'f'), 'utf8')).toBe('stale\n');

      const r = await run('restore', 'latest', '--target', target, '--delete');
      expect(r.stderr).toBe('');
      expect(readdirSync(target).sort()).toEqual(['f', 'sub']);
      expect(readFileSync(join(target, 'f'), 'utf8')).toBe('top\n');
      expect(readFileSync(join(target, 'sub', 'g'), 'utf8')).toBe('below\n');
      expect(lstatSync(target).mode & 0o777).toBe(0o550);
      chmodSync(target, 0o755);
    },
  );

  it.skipIf(!isRoot)(
    'an interrupted restore gives the read-only directories it opened their modes back',
    async () => {
      const { src, target, env, run } = await nobodysFolders(async (from) => {
        await mkdir(join(from, 'ro'));
        for (let i = 0; i < 400; i++) {
          await writeFile(join(from, 'ro', `f${i}`), pseudoRandomBytes(40_000, i));
        }
      });
      chmodSync(join(src, 'ro'), 0o555);
      await run('init', '--no-encryption', '--compression', 'off');
      await run('backup', src);
      await run('restore', 'latest', '--target', target);
      expect(lstatSync(join(target, 'ro')).mode & 0o777).toBe(0o555);
      // Every file edited in place (its owner and mode stay), so all are written again.
      for (let i = 0; i < 400; i++) await writeFile(join(target, 'ro', `f${i}`), 'local edit');

      const stopped = await interruptCairn(
        ['--json', 'restore', 'latest', '--target', target, '-v'],
        env,
        (out) => out.includes('"type":"file"'),
        nobody,
      );
      expect(stopped.signalled).toBe(true);
      expect(stopped.code, stopped.stderr).toBe(130);
      // Stopped before the directory's metadata: its mode is its own again, not u+w.
      expect(lstatSync(join(target, 'ro')).mode & 0o777).toBe(0o555);
      chmodSync(join(src, 'ro'), 0o755);
      chmodSync(join(target, 'ro'), 0o755);
    },
  );

  it.skipIf(!isRoot)(
    'sets extended attributes on its read-only files and directories, and skips privileged ones',
    async () => {
      const { base, src, target, env, run } = await nobodysFolders(async (from) => {
        await writeFile(join(from, 'f'), 'content\n');
        await writeFile(join(from, 'g'), 'writable in the snapshot\n');
        await mkdir(join(from, 'd'));
      });
      const set = (path: string, name: string, value: string) =>
        setXattr(path, { name, value: Buffer.from(value) });
      const names = (path: string) => readXattrs(path).map((a) => a.name);
      set(join(src, 'f'), 'user.a', '1');
      set(join(src, 'f'), 'trusted.t', 'for root only');
      set(join(src, 'd'), 'user.d', '2');
      set(join(src, 'g'), 'user.g', '3');
      chmodSync(join(src, 'f'), 0o444);
      chmodSync(join(src, 'd'), 0o555);
      await run('init', '--no-encryption');
      // Backed up as root, which sees trusted.* too; restored as the files' owner.
      await backUpAsRoot(base, src, env);
      const first = await run('restore', 'latest', '--target', target);
      expect(first.stderr).toBe('');
      expect(names(join(target, 'f'))).toEqual(['user.a']);
      expect(names(join(target, 'd'))).toEqual(['user.d']);

      // Removed behind its back: found in place, read-only, they are set again (g made
      // read-only in the target though writable in the snapshot).
      removeXattr(join(target, 'f'), 'user.a');
      removeXattr(join(target, 'd'), 'user.d');
      removeXattr(join(target, 'g'), 'user.g');
      chmodSync(join(target, 'g'), 0o444);
      const second = await run('restore', 'latest', '--target', target);
      expect(second.stderr).toBe('');
      expect(second.stdout).toMatch(/2 already up to date/);
      expect(names(join(target, 'g'))).toEqual(['user.g']);
      expect(lstatSync(join(target, 'g')).mode & 0o777).toBe(0o644);
      expect(names(join(target, 'f'))).toEqual(['user.a']);
      expect(names(join(target, 'd'))).toEqual(['user.d']);
      expect(lstatSync(join(target, 'f')).mode & 0o777).toBe(0o444);
      expect(lstatSync(join(target, 'd')).mode & 0o777).toBe(0o555);
      for (const d of [join(src, 'd'), join(target, 'd')]) chmodSync(d, 0o755);
    },
  );
});
