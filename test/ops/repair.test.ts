/**
 * `repairSnapshots`: a file whose data is missing, truncated or (with readData) corrupt
 * leaves the snapshot, which then is the tree a backup without that file makes; a lost
 * directory listing leaves an empty directory, a lost page of a large one only its own
 * entries; the repository checks clean afterwards; corrupt blobs are deleted so that a
 * forced backup can store them again; dry runs write nothing, a rerun writes nothing new.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import type { ObjectId } from '../../src/core/ids.js';
import type { DirEntry, FileEntry } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import { forget } from '../../src/ops/forget.js';
import { type RepairEvent, repairSnapshots } from '../../src/ops/repair.js';
import { restore } from '../../src/ops/restore.js';
import { walkTree } from '../../src/ops/walk.js';
import { blobKey, snapshotKey } from '../../src/repo/layout.js';
import { readPruneEpoch } from '../../src/repo/prune-state.js';
import { openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { entryAt } from '../helpers/repair-fixtures.js';
import { indexedIds, localRepo } from '../helpers/repo.js';

const SOURCE = {
  'big.bin': 'big file content '.repeat(400),
  'small.txt': 'small file, inline or one chunk'.repeat(3),
  sub: { 'c.txt': 'c content '.repeat(200), deeper: { 'd.txt': 'd'.repeat(700) } },
  other: { 'e.txt': 'e content '.repeat(100) },
};

async function pathsOf(repo: Repository, tree: ObjectId): Promise<string[]> {
  const out: string[] = [];
  for await (const { path } of walkTree(repo, tree)) out.push(path);
  return out.sort();
}

/** A fresh handle: no decoded trees cached from before the damage. */
async function reopen(dir: string): Promise<Repository> {
  return openRepositoryIn(new LocalBackend(dir));
}

describe('repair snapshots', () => {
  it('removes a file whose data is missing: the tree a backup without it makes', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo, dir } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false, tags: ['t'] });
    const big = (await entryAt(repo, full.snapshot.tree, 'big.bin')) as FileEntry;
    expect(big.chunks.length).toBeGreaterThan(2);
    await rm(join(dir, blobKey('data', big.chunks[1]!.id)));
    const damaged = await reopen(dir);
    expect((await check(damaged)).problems).toHaveLength(1);
    const epoch = await readPruneEpoch(damaged.backend);

    const events: RepairEvent[] = [];
    const report = await repairSnapshots(damaged, { onEvent: (e) => events.push(e) });
    expect(report).toMatchObject({ intact: 0, missingBlobs: 1, damagedBlobs: 0, dryRun: false });
    const [done] = report.repaired;
    expect(done!.from).toBe(full.snapshotId);
    expect(done!.lost).toEqual({ files: 1, bytes: big.size, trees: 0, entries: 0 });
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'damaged', path: 'big.bin', kind: 'file' }),
    );
    // Other machines' inventories may list the missing blob: a new epoch drops them.
    expect(await readPruneEpoch(damaged.backend)).not.toBe(epoch);

    await rm(join(src, 'big.bin'));
    const without = await backup(damaged, { paths: [src], statCacheDir: false });
    const repaired = await damaged.snapshots.load(done!.id!);
    expect(repaired.tree).toBe(without.snapshot.tree);
    const { files, dirs, bytes } = without.snapshot.summary;
    expect(repaired.summary).toMatchObject({ files, dirs, bytes });
    const original = await damaged.snapshots.load(full.snapshotId!);
    expect(repaired).toEqual({
      ...original,
      tree: repaired.tree,
      summary: { ...original.summary, files, dirs, bytes },
      original: full.snapshotId,
      rewrites: 1,
    });
    expect((await damaged.snapshots.resolve('latest', { tags: ['t'] })).id).toBe(done!.id);
    // The tree nodes leading to the loss are gone (a stored node promises everything
    // below it); the sound subtrees stay, shared with the repaired snapshot.
    expect(report).toMatchObject({ complete: true, damagedTrees: 1, deletedTrees: 1 });
    const stored = (key: string) =>
      damaged.backend.stat(key).then(
        () => true,
        () => false,
      );
    expect(await stored(blobKey('tree', full.snapshot.tree))).toBe(false);
    const sub = (await entryAt(damaged, repaired.tree, 'sub')) as DirEntry;
    expect(await stored(blobKey('tree', sub.tree))).toBe(true);
    // The repaired snapshot restores whole.
    const target = await tempDir();
    await restore(damaged, done!.id!, repaired, { target });
    expect(await readFile(join(target, 'sub', 'deeper', 'd.txt'), 'utf8')).toBe('d'.repeat(700));
    // The original it replaced is left alone, named or not (its repair would outrank
    // this one); forgotten, the repository checks clean.
    const again = await repairSnapshots(damaged, { snapshots: [full.snapshotId!], forget: true });
    expect(again).toMatchObject({ superseded: [full.snapshotId], repaired: [], forgotten: 0 });
    expect((await check(damaged)).problems.length).toBeGreaterThan(0);
    await forget(damaged, { snapshots: [full.snapshotId!] });
    expect((await check(damaged, { readData: true })).problems).toEqual([]);
  });

  it('keeps a directory whose listing is lost, empty, and counts what it held', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo, dir } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false });
    const sub = (await entryAt(repo, full.snapshot.tree, 'sub')) as DirEntry;
    await rm(join(dir, blobKey('tree', sub.tree)));
    const damaged = await reopen(dir);
    const events: RepairEvent[] = [];
    const report = await repairSnapshots(damaged, { forget: true, onEvent: (e) => events.push(e) });
    expect(report.repaired[0]!.lost).toEqual({ files: 2, bytes: sub.bytes, trees: 1, entries: 0 });
    expect(report.forgotten).toBe(1);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'damaged',
        path: 'sub',
        kind: 'tree',
        message: `listing lost: tree ${sub.tree} is missing`,
      }),
    );
    const repaired = await damaged.snapshots.load(report.repaired[0]!.id!);
    expect(await pathsOf(damaged, repaired.tree)).toEqual([
      'big.bin',
      'other',
      'other/e.txt',
      'small.txt',
      'sub',
    ]);
    expect(repaired.summary).toMatchObject({
      files: full.snapshot.summary.files - 2,
      dirs: full.snapshot.summary.dirs - 1,
    });
    expect((await check(damaged)).problems).toEqual([]);
  });

  it('a lost page of a large directory takes only its own entries', async () => {
    const src = await tempDir();
    await mkdir(join(src, 'big'));
    for (let i = 0; i < 6000; i++) {
      await writeFile(join(src, 'big', `f${String(i).padStart(5, '0')}.txt`), `${i}`.repeat(8));
    }
    const { repo, dir } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false });
    const big = (await entryAt(repo, full.snapshot.tree, 'big')) as DirEntry;
    const node = await repo.trees.node(big.tree);
    if (node.kind !== 'index') throw new Error('expected a paged directory');
    const page = node.pages[1]!;
    await rm(join(dir, blobKey('tree', page.tree)));
    const damaged = await reopen(dir);
    const report = await repairSnapshots(damaged);
    expect(report.repaired[0]!.lost).toMatchObject({ trees: 1, entries: page.count, files: 0 });
    const repaired = await damaged.snapshots.load(report.repaired[0]!.id!);
    const left = (await pathsOf(damaged, repaired.tree)).filter((p) => p.startsWith('big/'));
    expect(left).toHaveLength(6000 - page.count);
    expect(left).not.toContain(`big/${page.first}`);
    expect(repaired.summary.files).toBe(6000 - page.count);
  });

  it('with readData finds a corrupt blob, deletes it, and a forced backup stores it again', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo, dir } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false });
    const c = (await entryAt(repo, full.snapshot.tree, 'sub/c.txt')) as FileEntry;
    const key = join(dir, blobKey('data', c.chunks[0]!.id));
    const bytes = await readFile(key);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(key, bytes);
    const damaged = await reopen(dir);
    // Without reading data, a blob of the right length looks sound.
    expect((await repairSnapshots(damaged, { dryRun: true })).repaired).toEqual([]);
    const report = await repairSnapshots(damaged, { readData: true, forget: true });
    expect(report).toMatchObject({ damagedBlobs: 1, deletedBlobs: 1, missingBlobs: 0 });
    expect(report.blobsRead).toBeGreaterThan(1);
    expect(report.repaired[0]!.lost).toMatchObject({ files: 1, bytes: c.size });
    expect((await check(damaged, { readData: true })).problems).toEqual([]);
    // The corrupt copy is gone, so a forced backup puts the good bytes back.
    await backup(damaged, { paths: [src], statCacheDir: false, force: true });
    expect((await check(damaged, { readData: true })).problems).toEqual([]);
    expect(await readFile(key)).not.toEqual(bytes);
  });

  it('finds a truncated blob without reading data; a dry run writes nothing', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo, dir } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false });
    const e = (await entryAt(repo, full.snapshot.tree, 'other/e.txt')) as FileEntry;
    const key = join(dir, blobKey('data', e.chunks[0]!.id));
    await truncate(key, 3);
    const damaged = await reopen(dir);
    // Every object with its bytes and mtime: a dry run neither adds nor overwrites one.
    const objects = async () => {
      const found: string[] = [];
      for await (const info of damaged.backend.list('')) {
        const file = join(dir, info.key);
        const digest = createHash('sha256')
          .update(await readFile(file))
          .digest('hex');
        found.push(`${info.key} ${digest} ${(await stat(file)).mtimeMs}`);
      }
      return found.sort();
    };
    const before = await objects();
    const dry = await repairSnapshots(damaged, { dryRun: true, forget: true });
    expect(dry).toMatchObject({ damagedBlobs: 1, deletedBlobs: 0, forgotten: 0, dryRun: true });
    expect(dry.repaired[0]!.id).toBeUndefined();
    expect(await objects()).toEqual(before);
    const report = await repairSnapshots(damaged);
    expect(report).toMatchObject({ damagedBlobs: 1, deletedBlobs: 1 });
    expect(report.repaired[0]!.lost).toMatchObject({ files: 1, bytes: e.size });
    // Run again: the original (kept, its damaged trees deleted) is superseded by its
    // repair, which is sound.
    const again = await repairSnapshots(damaged);
    expect(again).toMatchObject({ repaired: [], superseded: [full.snapshotId], intact: 1 });
  });

  it('a stopped repair run again finds the record it wrote, and deletes what it left', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo, dir } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false, tags: ['t'] });
    const e = (await entryAt(repo, full.snapshot.tree, 'other/e.txt')) as FileEntry;
    await rm(join(dir, blobKey('data', e.chunks[0]!.id)));
    // With a filter, snapshots left out may reference the damaged trees: none deleted.
    const filtered = await repairSnapshots(await reopen(dir), { filter: { tags: ['t'] } });
    expect(filtered).toMatchObject({ complete: false, damagedTrees: 2, deletedTrees: 0 });
    expect((await repo.backend.stat(blobKey('tree', full.snapshot.tree))).size).toBeGreaterThan(0);
    // As a run stopped before its deletes leaves it: the whole run finds its record.
    const whole = await repairSnapshots(await reopen(dir), { forget: true });
    expect(whole.repaired).toEqual([
      expect.objectContaining({
        from: full.snapshotId,
        id: filtered.repaired[0]!.id,
        existing: true,
      }),
    ]);
    expect(whole).toMatchObject({ complete: true, deletedTrees: 2, forgotten: 1 });
    // Readers that cannot list see the original gone too.
    expect(await indexedIds(repo)).toEqual([filtered.repaired[0]!.id]);
    expect((await check(await reopen(dir))).problems).toEqual([]);
  });

  it('a backup after it stores again what its source still holds, stat cache or not', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo, dir } = await localRepo();
    const statCacheDir = await tempDir();
    await new Promise((r) => setTimeout(r, 150)); // past the stat cache's "too recent" margin
    const full = await backup(repo, { paths: [src], statCacheDir });
    const d = (await entryAt(repo, full.snapshot.tree, 'sub/deeper/d.txt')) as FileEntry;
    await rm(join(dir, blobKey('data', d.chunks[0]!.id)));
    const damaged = await reopen(dir);
    await repairSnapshots(damaged, { forget: true });
    // The stat cache knows `sub` by its old tree, which promised d.txt's data: gone now,
    // so the directory is written again and d.txt, whose chunk is missing, read again.
    const next = await backup(damaged, { paths: [src], statCacheDir });
    expect(next.snapshot.summary).toMatchObject({
      filesUnchanged: full.snapshot.summary.files,
      blobsAdded: 1 + 3, // d.txt's chunk; the nodes of sub/deeper, sub and the root
    });
    expect((await check(damaged, { readData: true })).problems).toEqual([]);
    const target = await tempDir();
    await restore(damaged, next.snapshotId!, next.snapshot, { target });
    expect(await readFile(join(target, 'sub', 'deeper', 'd.txt'), 'utf8')).toBe('d'.repeat(700));
  });

  it('walks a subtree shared by snapshots once, and names its damage in each with verbose', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo, dir } = await localRepo();
    const first = await backup(repo, { paths: [src], statCacheDir: false });
    await writeFile(join(src, 'new.txt'), 'new');
    await backup(repo, { paths: [src], statCacheDir: false });
    const d = (await entryAt(repo, first.snapshot.tree, 'sub/deeper/d.txt')) as FileEntry;
    await rm(join(dir, blobKey('data', d.chunks[0]!.id)));
    const damagedPaths = async (verbose: boolean) => {
      const events: RepairEvent[] = [];
      const report = await repairSnapshots(await reopen(dir), {
        dryRun: true,
        verbose,
        onEvent: (e) => events.push(e),
      });
      expect(report.repaired).toHaveLength(2);
      return events.flatMap((e) => (e.type === 'damaged' ? [e.path] : []));
    };
    expect(await damagedPaths(false)).toEqual(['sub/deeper/d.txt']);
    expect(await damagedPaths(true)).toEqual(['sub/deeper/d.txt', 'sub/deeper/d.txt']);
  });

  it('empties a snapshot whose root listing is lost, and reports unreadable records', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo, dir } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false });
    const same = await backup(repo, { paths: [src], statCacheDir: false, tags: ['again'] });
    expect(same.snapshot.tree).toBe(full.snapshot.tree);
    await writeFile(join(src, 'new.txt'), 'new');
    const second = await backup(repo, { paths: [src], statCacheDir: false });
    await rm(join(dir, blobKey('tree', full.snapshot.tree)));
    await writeFile(join(dir, snapshotKey(second.snapshotId!)), 'not a record');
    const damaged = await reopen(dir);
    const report = await repairSnapshots(damaged);
    expect(report.unreadable.map((u) => u.id)).toEqual([second.snapshotId]);
    // Each of the two snapshots of that root lost all of it, counted once each.
    expect(report.repaired.map((r) => r.lost)).toEqual([
      {
        trees: 1,
        entries: 0,
        files: full.snapshot.summary.files,
        bytes: full.snapshot.summary.bytes,
      },
      {
        trees: 1,
        entries: 0,
        files: full.snapshot.summary.files,
        bytes: full.snapshot.summary.bytes,
      },
    ]);
    const repaired = await damaged.snapshots.load(report.repaired[0]!.id!);
    expect(await pathsOf(damaged, repaired.tree)).toEqual([]);
    expect(repaired.summary).toMatchObject({ files: 0, bytes: 0, dirs: 1 });
  });
});
