/**
 * `ignoreInode` and `ignoreCtime`: the stat cache's fingerprint leaves out what the
 * options say, and only that. A file given another inode and ctime with the same
 * content, size and mtime (as a network file system remounted, or a copy that keeps
 * mtimes, gives it) is not read again with both; a chmod back to the same mode is not
 * a change with `ignoreCtime`, a chmod to another mode still is.
 */
import {
  chmodSync,
  copyFileSync,
  linkSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/ops/backup.js';
import { fingerprint } from '../../src/ops/source-stat.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

/** Files changed in the last 100 ms are never trusted to the cache (source-stat.ts). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 250));

async function source(): Promise<string> {
  const src = await tempDir();
  await writeTree(src, { a: 'a'.repeat(3000), b: 'b'.repeat(3000), c: 'c'.repeat(3000) });
  const t = Date.now() / 1000 - 3600;
  for (const n of ['a', 'b', 'c']) utimesSync(join(src, n), t, t);
  return src;
}

/** A source backed up once with `ignoreCtime` and a stat cache; `options` back it up again. */
async function backedUpIgnoringCtime() {
  const { repo } = await localRepo();
  const src = await source();
  const options = { paths: [src], statCacheDir: await tempDir(), ignoreCtime: true };
  await settle();
  await backup(repo, options);
  return { repo, src, options };
}

/** Gives `path` a new inode and ctime, with the same content, mode and mtime. */
function newInode(path: string): void {
  const st = statSync(path);
  copyFileSync(path, `${path}.copy`);
  utimesSync(`${path}.copy`, st.atime, st.mtime);
  renameSync(`${path}.copy`, path);
}

describe('stat cache fingerprints that leave out inodes or ctime', () => {
  it('differ only in the fields left out, and never across rules', () => {
    const st = statSync(process.execPath, { bigint: true });
    const moved = {
      ...st,
      ino: st.ino + 1n,
      dev: st.dev + 1n,
      ctimeNs: st.ctimeNs + 5n,
    } as typeof st;
    expect(fingerprint(moved)).not.toBe(fingerprint(st));
    expect(fingerprint(moved, { ignoreInode: true })).not.toBe(
      fingerprint(st, { ignoreInode: true }),
    );
    const both = { ignoreInode: true, ignoreCtime: true };
    expect(fingerprint(moved, both)).toBe(fingerprint(st, both));
    const chmodded = { ...st, mode: st.mode ^ 0o1n } as typeof st;
    expect(fingerprint(chmodded, both)).not.toBe(fingerprint(st, both));
    const rules = [{}, { ignoreInode: true }, { ignoreCtime: true }, both];
    const prints = new Set(rules.map((r) => fingerprint(st, r)));
    expect(prints.size).toBe(4);
  });

  it('takes files with new inodes and ctimes as unchanged with both options', async () => {
    const { repo } = await localRepo();
    const src = await source();
    const statCacheDir = await tempDir();
    const options = { paths: [src], statCacheDir, ignoreInode: true, ignoreCtime: true };
    await settle();
    await backup(repo, options);
    for (const n of ['a', 'b']) newInode(join(src, n));
    await settle();
    const again = await backup(repo, options);
    expect(again.snapshot.summary).toMatchObject({ filesUnchanged: 3, filesChanged: 0 });
    expect(again.bytesRead).toBe(0);
    // Without the options the same files are read again (and the cache then learns them).
    newInode(join(src, 'a'));
    await settle();
    const plain = await backup(repo, { paths: [src], statCacheDir });
    expect(plain.snapshot.summary.filesChanged + plain.snapshot.summary.filesNew).toBe(3);
  });

  it('with ignoreCtime still sees a chmod to another mode, and records it', async () => {
    const { repo, src, options } = await backedUpIgnoringCtime();
    chmodSync(join(src, 'a'), 0o600);
    chmodSync(join(src, 'a'), 0o644);
    chmodSync(join(src, 'b'), 0o600);
    await settle();
    const again = await backup(repo, options);
    expect(again.snapshot.summary).toMatchObject({ filesUnchanged: 2, filesChanged: 1 });
    const b = await repo.trees.lookup(again.snapshot.tree, 'b');
    expect(b?.mode).toBe(0o600);
  });
});

describe('ignoreInode and hard links', () => {
  it('reads hard-linked files again, so their link group is keyed by the current inode', async () => {
    const { repo } = await localRepo();
    const src = await source();
    linkSync(join(src, 'a'), join(src, 'a2'));
    const statCacheDir = await tempDir();
    const options = { paths: [src], statCacheDir, ignoreInode: true };
    await settle();
    await backup(repo, options);
    const again = await backup(repo, options);
    // b and c come from the cache; a and a2 are read (one read for the group).
    expect(again.snapshot.summary.filesUnchanged).toBe(4);
    expect(again.bytesRead).toBe(3000);
    const a = await repo.trees.lookup(again.snapshot.tree, 'a');
    const st = statSync(join(src, 'a'));
    expect(a).toMatchObject({ hardlink: `${st.dev}:${st.ino}` });
  });
});

describe('ignored fields and a link count that changed', () => {
  const both = { ignoreInode: true, ignoreCtime: true };

  it('the fingerprint holds the link count under either option, and not without them', () => {
    const st = statSync(process.execPath, { bigint: true });
    const linked = { ...st, nlink: st.nlink + 1n } as typeof st;
    for (const rules of [{ ignoreInode: true }, { ignoreCtime: true }, both]) {
      expect(fingerprint(linked, rules)).not.toBe(fingerprint(st, rules));
    }
    // By default ctime, which every link made or removed changes, stands for it.
    expect(fingerprint(linked)).toBe(fingerprint(st));
  });

  it('a file that left its link group is read again and keyed no more (both options)', async () => {
    // Its old key names an inode that a new group can be given (a remount, a reused
    // number): kept from the cache, restore would link that group's files to it.
    const { repo } = await localRepo();
    const src = await source();
    linkSync(join(src, 'a'), join(src, 'a2'));
    const statCacheDir = await tempDir();
    const options = { paths: [src], statCacheDir, ...both };
    await settle();
    const first = await backup(repo, options);
    expect(await repo.trees.lookup(first.snapshot.tree, 'a')).toHaveProperty('hardlink');
    unlinkSync(join(src, 'a2'));
    await settle();
    const again = await backup(repo, options);
    const a = await repo.trees.lookup(again.snapshot.tree, 'a');
    expect(a).toBeDefined();
    expect(a).not.toHaveProperty('hardlink');
    expect(again.bytesRead).toBe(3000);
  });

  it('a link made to a cached file keys both names (ignoreCtime)', async () => {
    const { repo, src, options } = await backedUpIgnoringCtime();
    linkSync(join(src, 'a'), join(src, 'a2'));
    await settle();
    const again = await backup(repo, options);
    const st = statSync(join(src, 'a'));
    for (const name of ['a', 'a2']) {
      expect(await repo.trees.lookup(again.snapshot.tree, name)).toMatchObject({
        hardlink: `${st.dev}:${st.ino}`,
      });
    }
  });
});
