/**
 * `backup --no-xattrs`, `restore --no-xattrs`, and what the CLI says where cairn's
 * native module cannot load (`CAIRN_XATTR_MODULE` names a module file that is not there):
 * a note, once, and the exit code of a backup that lost nothing it could read.
 * The built executable, in processes of its own (the module is loaded once per process).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readXattrs, setXattr } from '../../src/core/xattrs.js';
import { cairnBinary } from '../helpers/compiled.js';
import { tempDir } from '../helpers/fs.js';

const run = promisify(execFile);

async function cairn(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [cairnBinary(), ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const names = (path: string) => readXattrs(path).map((a) => a.name);

describe('extended attributes in the CLI', () => {
  it('--no-xattrs leaves them out of a backup and out of a restore', async () => {
    const root = await tempDir();
    const repo = join(root, 'repo');
    const src = await tempDir();
    await writeFile(join(src, 'f'), 'content');
    setXattr(join(src, 'f'), { name: 'user.kept', value: Buffer.from('yes') });
    const env = { CAIRN_CACHE_DIR: join(root, 'cache') };
    expect((await cairn(env, '-r', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cairn(env, '-r', repo, 'backup', '--tag', 'with', src)).code).toBe(0);
    expect(
      (await cairn(env, '-r', repo, 'backup', '--tag', 'without', '--no-xattrs', src)).code,
    ).toBe(0);
    const restoreInto = async (tag: string, ...more: string[]) => {
      const target = await tempDir();
      const r = await cairn(env, '-r', repo, 'restore', `tag:${tag}`, '--target', target, ...more);
      expect(r.code, r.stderr).toBe(0);
      // One source: its content is the snapshot's root.
      return join(target, 'f');
    };
    const listed = async (tag: string) => {
      const r = await cairn(env, '-r', repo, '--json', 'ls', `tag:${tag}`);
      const entries = r.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { type: string; path?: string; xattrs?: unknown });
      return entries.find((e) => e.type === 'entry' && e.path === 'f');
    };
    expect((await listed('with'))?.xattrs).toEqual([
      { name: 'user.kept', value: Buffer.from('yes').toString('base64') },
    ]);
    expect(await listed('without')).not.toHaveProperty('xattrs');
    expect(names(await restoreInto('with'))).toEqual(['user.kept']);
    expect(names(await restoreInto('without'))).toEqual([]);
    expect(names(await restoreInto('with', '--no-xattrs'))).toEqual([]);
  });

  it('without the native module: a note, once, and exit 0', async () => {
    const root = await tempDir();
    const repo = join(root, 'repo');
    const src = await tempDir();
    for (const n of ['a', 'b']) {
      await writeFile(join(src, n), n);
      setXattr(join(src, n), { name: 'user.x', value: Buffer.from(n) });
    }
    const env = { CAIRN_CACHE_DIR: join(root, 'cache') };
    expect((await cairn(env, '-r', repo, 'init', '--no-encryption')).code).toBe(0);
    // Recorded with the module, restored without it.
    expect((await cairn(env, '-r', repo, 'backup', src)).code).toBe(0);
    const missing = { ...env, CAIRN_XATTR_MODULE: join(root, 'no-such-module.node') };
    const target = await tempDir();
    const restored = await cairn(missing, '-r', repo, 'restore', 'latest', '--target', target);
    expect(restored.code, restored.stderr).toBe(0);
    const notes = restored.stderr.split('\n').filter((l) => l.includes('extended attributes'));
    expect(notes).toEqual([
      expect.stringMatching(
        /^note: extended attributes are not restored: .*no-such-module\.node did not load/,
      ),
    ]);

    const backedUp = await cairn(missing, '-r', repo, '--json', 'backup', src);
    expect(backedUp.code, backedUp.stderr).toBe(0);
    const events = backedUp.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { type: string; code?: string; message?: string });
    expect(events.filter((e) => e.type === 'notice' && e.code === 'xattrs-unavailable')).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/are not recorded/) }),
    ]);
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
  });
});
