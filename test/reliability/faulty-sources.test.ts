/**
 * Faulty sources and targets: files deleted, growing or shrinking while a backup reads
 * them, permission denied (a real unprivileged process), a full disk during restore (a
 * small tmpfs), paths longer than PATH_MAX, names that are not UTF-8, and sparse files
 * over 4 GiB. Each ends in a complete snapshot or a clear, named error, and never in a
 * wrong file under a final name; deep paths and non-UTF-8 names round-trip byte-exact
 * and sparse files restore sparse.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { appendFile, chmod, mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import type { BackupEvent, RestoreEvent } from '../../src/ops/events.js';
import { restore } from '../../src/ops/restore.js';
import { initRepository, type Repository } from '../../src/repo/repository.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import {
  cairnBin,
  digest,
  halfWrittenFiles,
  LOOP_TIMEOUT_MS,
  readFiles,
  requireBinary,
  STRESS,
  tempFilesBelow,
} from '../helpers/reliability.js';
import { localRepo } from '../helpers/repo.js';

const isRoot = process.getuid?.() === 0;

async function backupCollecting(
  repo: Repository,
  paths: string[],
  onEvent?: (e: BackupEvent) => void,
) {
  const warnings: Array<{ path: string; message: string }> = [];
  const result = await backup(repo, {
    paths,
    statCacheDir: false,
    verbose: true,
    onEvent: (e) => {
      if (e.type === 'warning') warnings.push(e);
      onEvent?.(e);
    },
  });
  return { ...result, warnings };
}

async function restoreCollecting(repo: Repository, id: string, target: string) {
  const warnings: Array<{ path: string; message: string; code: string }> = [];
  let error: unknown;
  try {
    await restore(repo, id, await repo.snapshots.load(id), {
      target,
      onEvent: (e: RestoreEvent) => {
        if (e.type === 'warning') warnings.push(e);
      },
    });
  } catch (err) {
    error = err;
  }
  return { warnings, error };
}

async function expectClean(repo: Repository): Promise<void> {
  expect((await check(repo, { readData: true })).problems).toEqual([]);
}

describe('files changing while read', () => {
  it('a file deleted during the backup is either a warning or stored whole', async () => {
    const { repo } = await localRepo();
    const src = await tempDir();
    for (let i = 0; i < 40; i++)
      await writeFile(join(src, `a${String(i).padStart(2, '0')}`), `f${i}`);
    const big = pseudoRandomBytes(3_000_000, 5);
    await writeFile(join(src, 'y-big'), big);
    await writeFile(join(src, 'z-small'), 'doomed');
    let deleted = false;
    const { snapshotId, snapshot, warnings } = await backupCollecting(repo, [src], (e) => {
      // As soon as the first file is done, the later ones vanish.
      if (e.type === 'file' && !deleted) {
        deleted = true;
        unlinkSync(join(src, 'y-big'));
        unlinkSync(join(src, 'z-small'));
      }
    });
    expect(deleted).toBe(true);
    const target = await tempDir();
    const r = await restoreCollecting(repo, snapshotId!, target);
    expect(r.warnings).toEqual([]);
    const restored = await readFiles(target);
    const expected = new Map([...(await readFiles(src))]);
    expected.set('y-big', digest(big));
    expected.set('z-small', digest(Buffer.from('doomed')));
    // Present files are exact; each missing one was reported by name.
    expect(await halfWrittenFiles(target, expected)).toEqual([]);
    for (const name of ['y-big', 'z-small']) {
      if (!restored.has(name)) expect(warnings.map((w) => w.path)).toContain(join(src, name));
    }
    expect(snapshot.summary.errors).toBe(warnings.length);
    expect(restored.size).toBe(40 + 2 - warnings.length);
    await expectClean(repo);
  });

  it('a file whose size or times moved between lstat and read is a notice naming it', async () => {
    const { repo } = await localRepo({ inlineMax: 4096 });
    const src = await tempDir();
    await writeFile(join(src, 'a-first'), 'first');
    await writeFile(join(src, 'b-big'), pseudoRandomBytes(300_000, 3));
    await writeFile(join(src, 'c-small'), pseudoRandomBytes(3000, 4));
    await writeFile(join(src, 'd-same'), pseudoRandomBytes(300_000, 5));
    const notices: Array<{ code: string; path?: string; message: string }> = [];
    let moved = false;
    const { snapshot, warnings } = await backupCollecting(repo, [src], (e) => {
      if (e.type === 'notice') notices.push(e);
      // Both were lstat-ed with the directory; they shrink before they are read.
      if (e.type === 'file' && !moved) {
        moved = true;
        truncateSync(join(src, 'b-big'), 100_000);
        truncateSync(join(src, 'c-small'), 10);
        // Rewritten in place, same size: only its times say so.
        writeFileSync(join(src, 'd-same'), pseudoRandomBytes(300_000, 6));
      }
    });
    expect(warnings).toEqual([]);
    expect(snapshot.summary.errors).toBe(0);
    // The big one is read asynchronously: the small one's notice may come first.
    notices.sort((a, b) => String(a.path).localeCompare(String(b.path)));
    expect(notices.map((n) => [n.code, n.path])).toEqual([
      ['file-changed', join(src, 'b-big')],
      ['file-changed', join(src, 'c-small')],
      ['file-changed', join(src, 'd-same')],
    ]);
    expect(notices[2]!.message).toBe(
      `${join(src, 'd-same')} changed while it was read (written to: its times moved; 300000 bytes read): the snapshot holds what was read`,
    );
    expect(notices[0]!.message).toBe(
      `${join(src, 'b-big')} changed while it was read (300000 bytes at the start, 100000 read): the snapshot holds what was read`,
    );
    const target = await tempDir();
    expect(
      (await restoreCollecting(repo, (await repo.snapshots.list({})).at(-1)!.id, target)).warnings,
    ).toEqual([]);
    expect((await readFile(join(target, 'b-big'))).length).toBe(100_000);
    expect((await readFile(join(target, 'c-small'))).length).toBe(10);
  });

  it('a file growing or shrinking during the read is stored as a consistent prefix', async () => {
    const { repo } = await localRepo({ chunker: { min: 4096, avg: 16384, max: 65536, level: 1 } });
    const src = await tempDir();
    const original = pseudoRandomBytes(4_000_000, 9);
    await writeFile(join(src, 'growing'), original);
    await writeFile(join(src, 'shrinking'), original);
    let ticks = 0;
    const timer = setInterval(() => {
      if (++ticks > 100) return;
      const more = pseudoRandomBytes(20_000, 100 + ticks);
      appendFile(join(src, 'growing'), more).catch(() => {});
      if (ticks === 3) truncate(join(src, 'shrinking'), 1_000_000).catch(() => {});
    }, 2);
    let result: Awaited<ReturnType<typeof backupCollecting>>;
    try {
      result = await backupCollecting(repo, [src]);
    } finally {
      clearInterval(timer);
    }
    await new Promise((r) => setTimeout(r, 20));
    const finalGrowing = await readFile(join(src, 'growing'));
    const target = await tempDir();
    const r = await restoreCollecting(repo, result.snapshotId!, target);
    expect(r.warnings).toEqual([]);
    expect(finalGrowing.length).toBeGreaterThan(original.length);
    const grown = await readFile(join(target, 'growing'));
    expect(grown.length).toBeGreaterThanOrEqual(original.length);
    expect(finalGrowing.subarray(0, grown.length).equals(grown)).toBe(true);
    const shrunk = await readFile(join(target, 'shrinking'));
    expect(original.subarray(0, shrunk.length).equals(shrunk)).toBe(true);
    await expectClean(repo);
  });
});

describe('permission denied', () => {
  it.skipIf(!isRoot)(
    'an unprivileged backup skips what it cannot read, with named warnings (exit 3)',
    async () => {
      requireBinary();
      const base = await tempDir();
      await chmod(base, 0o755);
      const src = join(base, 'src');
      await mkdir(join(src, 'locked-dir'), { recursive: true });
      await writeFile(join(src, 'ok.txt'), 'readable\n');
      await writeFile(join(src, 'secret'), 'no\n');
      await writeFile(join(src, 'locked-dir', 'inner'), 'no\n');
      chmodSync(join(src, 'secret'), 0o000);
      chmodSync(join(src, 'locked-dir'), 0o000);
      const repo = join(base, 'repo');
      const cache = join(base, 'cache');
      const state = join(base, 'state');
      for (const d of [repo, cache, state]) {
        mkdirSync(d);
        chownSync(d, 65534, 65534);
      }
      const env = { CAIRN_REPO: repo, CAIRN_CACHE_DIR: cache, CAIRN_STATE_DIR: state, HOME: base };
      const nobody = { uid: 65534, gid: 65534 };
      expect((await cairnBin(['init', '--inline-max', '1K'], env, nobody)).code).toBe(0);
      const b = await cairnBin(['backup', src], env, nobody);
      expect(b.code, b.stderr).toBe(3);
      expect(b.stderr).toContain(join(src, 'secret'));
      expect(b.stderr).toContain(join(src, 'locked-dir'));
      expect(b.stderr).toMatch(/permission denied|EACCES/i);
      // Told as cairn tells a failed system call, not in Node's own words.
      expect(b.stderr).toContain(
        `warning: ${join(src, 'secret')}: cannot open: permission denied (EACCES)`,
      );
      const target = await tempDir();
      const r = await cairnBin(['restore', 'latest', '--target', target], env);
      expect(r.code, r.stderr).toBe(0);
      expect([...(await readFiles(target)).keys()]).toEqual(['ok.txt']);
      expect(readdirSync(join(target, 'locked-dir'))).toEqual([]);
      const c = await cairnBin(['check', '--read-data'], env);
      expect(c.code, c.stderr).toBe(0);
      // The backup's own root cannot be listed: nothing to save, so it fails (exit 1)
      // and saves no snapshot. Before, it saved an empty one, the next backup's parent.
      const rootless = await cairnBin(['backup', join(src, 'locked-dir')], env, nobody);
      expect(rootless.code, rootless.stderr).toBe(1);
      expect(rootless.stderr).toContain(join(src, 'locked-dir'));
      expect(rootless.stderr).toContain('permission denied (EACCES)');
      expect(rootless.stdout).not.toContain('saved');
      // Nor when several roots are given and none can be read or listed.
      const none = await cairnBin(
        ['backup', join(src, 'locked-dir'), join(src, 'secret')],
        env,
        nobody,
      );
      expect(none.code, none.stderr).toBe(1);
      expect(none.stderr).toContain(
        `cannot back up any of the paths given (${join(src, 'locked-dir')}: permission denied (EACCES); ${join(src, 'secret')}: permission denied (EACCES))`,
      );
      expect(none.stdout).not.toContain('saved');
      const list = await cairnBin(['--json', 'snapshots'], env);
      expect(list.stdout.match(/"type":"snapshot"/g)).toHaveLength(1);
      // A single file that cannot be read: the same, worded for one path.
      const secret = await cairnBin(['backup', join(src, 'secret')], env, nobody);
      expect(secret.code, secret.stderr).toBe(1);
      expect(secret.stderr).toContain(
        `cannot back up ${join(src, 'secret')}: permission denied (EACCES)`,
      );
      // One of them readable: saved, with a warning for the other (exit 3).
      const one = await cairnBin(
        ['backup', join(src, 'locked-dir'), join(src, 'ok.txt')],
        env,
        nobody,
      );
      expect(one.code, one.stderr).toBe(3);
      expect(one.stdout).toContain('saved');
      chmodSync(join(src, 'locked-dir'), 0o755);
    },
  );
});

/** Mounts a tmpfs of `size` at a fresh directory; undefined when mounting is not allowed. */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('a full disk during restore', () => {
  it('is a clear ENOSPC error, with nothing half-written under a final name', async (ctx) => {
    const mnt = await tempDir();
    if (!mountTmpfs(mnt, '2m')) {
      ctx.skip();
      return;
    }
    try {
      const { repo } = await localRepo({
        chunker: { min: 4096, avg: 16384, max: 65536, level: 1 },
      });
      const src = await tempDir();
      await writeFile(join(src, 'a-small'), 'fits\n');
      await writeFile(join(src, 'b-big'), pseudoRandomBytes(3_000_000, 1));
      await writeFile(join(src, 'c-medium'), pseudoRandomBytes(1_500_000, 2));
      await writeFile(join(src, 'd-small'), 'fits too\n');
      // In a new directory inside the new target: staged (written at its name there).
      await mkdir(join(src, 'e-dir'));
      await writeFile(join(src, 'e-dir', 'f-medium'), pseudoRandomBytes(1_500_000, 3));
      await writeFile(join(src, 'e-dir', 'g-small'), 'in a directory\n');
      const { snapshotId } = await backupCollecting(repo, [src]);
      const target = join(mnt, 'target');
      const r = await restoreCollecting(repo, snapshotId!, target);
      const messages = [...r.warnings.map((w) => w.message), String(r.error ?? '')].join('\n');
      expect(messages).toMatch(/ENOSPC|no space left/i);
      expect(await halfWrittenFiles(target, await readFiles(src))).toEqual([]);
      // Failed writes remove their temporary files.
      expect(await tempFilesBelow(target)).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

/**
 * A listing of the tree under `root` made by a separate Node process that walks it with
 * relative steps (chdir), so it reaches any depth and is independent of cairn: relative
 * path (hex bytes) -> kind, mode and content digest or link target (hex bytes).
 */
function deepListing(root: string): Record<string, string> {
  const script = `const fs = require('node:fs');
    const crypto = require('node:crypto');
    const out = {};
    const walk = (rel) => {
      for (const name of fs.readdirSync('.', { encoding: 'buffer' })) {
        const path = Buffer.concat([rel, Buffer.from('/'), name]);
        const st = fs.lstatSync(name);
        const key = path.toString('hex');
        const mode = (st.mode & 0o7777).toString(8);
        if (st.isDirectory()) {
          out[key] = 'dir ' + mode;
          // chdir takes strings only: enter a byte name through its descriptor.
          const fd = fs.openSync(name, 'r');
          process.chdir('/proc/self/fd/' + fd);
          fs.closeSync(fd);
          walk(path);
          process.chdir('..');
        } else if (st.isFIFO()) {
          out[key] = 'fifo ' + mode;
        } else if (st.isSymbolicLink()) {
          out[key] = 'link ' + fs.readlinkSync(name, { encoding: 'buffer' }).toString('hex');
        } else {
          const digest = crypto.createHash('sha256').update(fs.readFileSync(name)).digest('hex');
          out[key] = 'file ' + mode + ' ' + st.size + ' ' + digest;
        }
      }
    };
    process.chdir(process.argv[1]);
    walk(Buffer.alloc(0));
    process.stdout.write(JSON.stringify(out));`;
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script, root], { maxBuffer: 64 << 20 }).toString(),
  );
}

/** Removes a tree too deep for Node's recursive rm (GNU rm copes). */
function removeDeep(path: string): void {
  execFileSync('rm', ['-rf', path]);
}

describe('long paths and odd names', () => {
  it('a tree deeper than PATH_MAX (4096 bytes) backs up without warnings and restores byte-exact', async () => {
    const src = await tempDir();
    const target = await tempDir();
    await writeFile(join(src, 'shallow'), 'top\n');
    const component = 'd'.repeat(200);
    // Created with relative steps (a child process chdir-ing down): no absolute path
    // this long can be used, and shells refuse to \`cd\` past PATH_MAX. At the bottom
    // (about 6 KB deep): a small file, a chunked file, a symlink, a name that is not
    // UTF-8, a directory and a FIFO.
    const script = `const fs = require('node:fs');
      process.chdir(process.argv[1]);
      for (let i = 0; i < 30; i++) { fs.mkdirSync('${component}'); process.chdir('${component}'); }
      fs.writeFileSync('leaf', 'deep');
      fs.writeFileSync('big', Buffer.alloc(200000, 'b'));
      fs.symlinkSync('leaf', 'link');
      fs.writeFileSync(Buffer.from([0x62, 0x61, 0x64, 0x2d, 0xff]), 'not utf-8 and deep');
      fs.writeFileSync(Buffer.from([0x62, 0x69, 0x67, 0x2d, 0xfe]), Buffer.alloc(150000, 'x'));
      fs.mkdirSync('sub'); fs.writeFileSync('sub/inner', 'inner');
      require('node:child_process').execFileSync('mkfifo', ['-m', '640', 'fifo']);`;
    execFileSync(process.execPath, ['-e', script, src]);
    try {
      const { repo } = await localRepo({
        chunker: { min: 4096, avg: 16384, max: 65536, level: 1 },
      });
      const { snapshotId, snapshot, warnings } = await backupCollecting(repo, [src]);
      expect(warnings).toEqual([]);
      expect(snapshot.summary.errors).toBe(0);
      expect(snapshot.summary.files).toBe(6);
      const r = await restoreCollecting(repo, snapshotId!, target);
      expect(r.error).toBeUndefined();
      expect(r.warnings).toEqual([]);
      const expected = deepListing(src);
      expect(Object.keys(expected)).toHaveLength(30 + 9);
      expect(deepListing(target)).toEqual(expected);
      // Again over the restored tree, deleting extras: everything is recognised in place.
      const again = await restore(repo, snapshotId!, snapshot, { target, delete: true });
      expect(again.errors).toBe(0);
      expect(again.deleted).toBe(0);
      expect(again.filesUnchanged).toBe(6);
      expect(deepListing(target)).toEqual(expected);
      await expectClean(repo);
    } finally {
      removeDeep(join(src, component));
      removeDeep(join(target, component));
    }
  });

  it('a file name that is not UTF-8 is stored and restored with its exact bytes', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'plain'), 'ok\n');
    const at = (...parts: Array<string | number[] | Buffer>) =>
      Buffer.concat(
        parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p as Uint8Array))),
      );
    const badName = at('bad-', [0xff, 0xfe], '.txt');
    const fd = openSync(at(`${src}/`, badName), 'w');
    writeSync(fd, 'latin-1 name\n');
    closeSync(fd);
    // A directory with such a name, a chunked file inside, and a symlink to it.
    const badDir = at('dir-', [0xe9]);
    mkdirSync(at(`${src}/`, badDir));
    writeFileSync(at(`${src}/`, badDir, '/inner-', [0xc0, 0x80]), pseudoRandomBytes(100_000, 3));
    symlinkSync(at(badName), at(`${src}/link`));
    const { repo } = await localRepo({ chunker: { min: 4096, avg: 16384, max: 65536, level: 1 } });
    const { snapshotId, snapshot, warnings } = await backupCollecting(repo, [src]);
    expect(warnings).toEqual([]);
    expect(snapshot.summary.files).toBe(3);
    const target = await tempDir();
    const r = await restoreCollecting(repo, snapshotId!, target);
    expect(r.warnings).toEqual([]);
    expect(r.error).toBeUndefined();
    expect(readdirSync(target, { encoding: 'buffer' }).sort(Buffer.compare)).toEqual(
      readdirSync(src, { encoding: 'buffer' }).sort(Buffer.compare),
    );
    const expected = deepListing(src);
    expect(Object.keys(expected)).toHaveLength(5);
    expect(deepListing(target)).toEqual(expected);
    expect(readFileSync(at(`${target}/`, badName), 'utf8')).toBe('latin-1 name\n');
    // A second restore with delete keeps them (they are the snapshot's names).
    const again = await restore(repo, snapshotId!, snapshot, { target, delete: true });
    expect(again.deleted).toBe(0);
    expect(again.errors).toBe(0);
    expect(deepListing(target)).toEqual(expected);
    await expectClean(repo);
  });
});

/**
 * Over 4 GiB, past the 32-bit boundary: about 0.5 s here, since a sparse file is read
 * around the page cache and its runs of zeros are neither scanned nor hashed again
 * (docs/design.md › Backup); where the file system refuses uncached reads, some 5-20 s.
 */
const SPARSE_SIZE = 4 * 1024 ** 3 + 12_345;

describe('sparse files', () => {
  it(
    `a sparse file of ${SPARSE_SIZE} bytes backs up and restores with its exact size and data`,
    async () => {
      const dir = await tempDir('cairn-sparse-');
      const backend = new LocalBackend(join(dir, 'repo'));
      const repo = await initRepository(backend, {});
      const src = join(dir, 'src');
      await mkdir(src);
      const path = join(src, 'sparse.img');
      const size = SPARSE_SIZE;
      const marks = [0, Math.floor(size / 2) + 7, size - 1000];
      await writeFile(path, '');
      await truncate(path, size);
      const fd = openSync(path, 'r+');
      for (const [i, at] of marks.entries()) writeSync(fd, pseudoRandomBytes(1000, i), 0, 1000, at);
      closeSync(fd);
      let t = Date.now();
      const { snapshotId, snapshot } = await backupCollecting(repo, [src]);
      const backupMs = Date.now() - t;
      expect(snapshot.summary.bytes).toBe(size);
      // Zeros deduplicate: the repository holds a few MiB, not 4 GiB.
      expect(snapshot.summary.bytesAdded).toBeLessThan(16 << 20);
      const target = join(dir, 'target');
      t = Date.now();
      const r = await restoreCollecting(repo, snapshotId!, target);
      const restoreMs = Date.now() - t;
      expect(r.warnings).toEqual([]);
      const out = join(target, 'sparse.img');
      const st = statSync(out);
      expect(st.size).toBe(size);
      const rfd = openSync(out, 'r');
      try {
        for (const [i, at] of marks.entries()) {
          const buf = Buffer.alloc(1000);
          readSync(rfd, buf, 0, 1000, at);
          expect(buf.equals(pseudoRandomBytes(1000, i))).toBe(true);
        }
      } finally {
        closeSync(rfd);
      }
      // Zero chunks are restored as holes: the restored file is sparse too.
      const allocated = st.blocks * 512;
      process.stdout.write(
        `sparse ${size} bytes: backup ${backupMs} ms, restore ${restoreMs} ms, restored allocation ${allocated} bytes\n`,
      );
      expect(allocated).toBeLessThan(Math.min(size / 8, 64 << 20));
      expect(backupMs + restoreMs).toBeLessThan(STRESS ? 600_000 : 120_000);
    },
    LOOP_TIMEOUT_MS,
  );
});
