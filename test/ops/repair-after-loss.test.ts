/**
 * `repairSnapshots` against the harder kinds of loss (found by review): corrupt tree
 * nodes, a repaired directory whose id equals a lost or corrupt node, a repair stopped
 * among its deletions, a selected repair with `forget` before a full one, trees of a
 * forgotten snapshot not yet pruned, a file with one chunk missing and another corrupt,
 * and a selector among unreadable records. After each, `check --read-data` is clean and
 * stays clean through the next backup (with the stat cache of before the loss), a
 * forced backup, or a sync from a repository that still holds everything.
 */
import { cp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CallOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { BackendError } from '../../src/core/errors.js';
import type { DirEntry, FileEntry } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { forget } from '../../src/ops/forget.js';
import { repairSnapshots } from '../../src/ops/repair.js';
import { sync } from '../../src/ops/sync.js';
import { blobKey, snapshotKey } from '../../src/repo/layout.js';
import { openRepositoryIn } from '../../src/repo/repository.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { entryAt, openFresh, problems } from '../helpers/repair-fixtures.js';
import { localRepo } from '../helpers/repo.js';

const SOURCE = {
  'big.bin': 'big file content '.repeat(400),
  sub: { 'c.txt': 'c content '.repeat(200), deeper: { 'd.txt': 'd'.repeat(700) } },
  other: { 'e.txt': 'e content '.repeat(100) },
};

const open = openFresh;

async function flipLastByte(file: string): Promise<void> {
  const bytes = await readFile(file);
  bytes[bytes.length - 1]! ^= 0xff;
  await writeFile(file, bytes);
}

/** Settles the sources past the stat cache's "too recent" margin. */
const settle = () => new Promise((r) => setTimeout(r, 150));

/** A backup of SOURCE whose sub/deeper/d.txt has lost its chunk. */
async function backupLosingDeepChunk() {
  const src = await tempDir();
  await writeTree(src, SOURCE);
  const { repo, dir } = await localRepo();
  const statCacheDir = await tempDir();
  await settle();
  const full = await backup(repo, { paths: [src], statCacheDir });
  const d = (await entryAt(repo, full.snapshot.tree, 'sub/deeper/d.txt')) as FileEntry;
  await rm(join(dir, blobKey('data', d.chunks[0]!.id)));
  return { src, dir, statCacheDir };
}

/** Fails the n-th delete of a tree node, as a run stopped part way. */
class StopsAtTreeDelete extends ForwardingBackend {
  private deletes = 0;
  constructor(
    inner: LocalBackend,
    private readonly failAt: number,
  ) {
    super(inner);
  }
  override delete(key: string, options?: CallOptions): Promise<void> {
    if (key.startsWith('tree/') && ++this.deletes === this.failAt) {
      return Promise.reject(new BackendError(`stopped at delete ${key}`));
    }
    return super.delete(key, options);
  }
}

describe('repair after harder losses', () => {
  for (const how of ['flipped', 'truncated'] as const) {
    it(`deletes a ${how} tree node, so the next backup writes it again`, async () => {
      const src = await tempDir();
      await writeTree(src, SOURCE);
      const { repo, dir } = await localRepo();
      const full = await backup(repo, { paths: [src], statCacheDir: false });
      const sub = (await entryAt(repo, full.snapshot.tree, 'sub')) as DirEntry;
      const key = join(dir, blobKey('tree', sub.tree));
      if (how === 'flipped') await flipLastByte(key);
      else await truncate(key, 10);
      const report = await repairSnapshots(await open(dir), { forget: true, readData: true });
      expect(report).toMatchObject({ corruptTrees: 1, complete: true });
      expect(await problems(dir)).toEqual([]);
      await backup(await open(dir), { paths: [src], statCacheDir: false });
      expect(await problems(dir)).toEqual([]);
    });
  }

  for (const loss of ['missing, an inventory listing it', 'corrupt'] as const) {
    it(`writes a repaired directory whose id is that of a ${loss} node`, async () => {
      const src = await tempDir();
      await writeTree(src, { sub: { 'a.txt': 'a'.repeat(500), 'b.txt': 'b'.repeat(500) } });
      const { dir } = await localRepo();
      const cacheDir = await tempDir();
      const withInventory = { inventory: 'on' as const, cacheDir };
      const repo = await open(dir, withInventory);
      const first = await backup(repo, { paths: [src], statCacheDir: false });
      await rm(join(src, 'sub', 'b.txt'));
      const second = await backup(repo, { paths: [src], statCacheDir: false });
      await repo.close();
      // The first snapshot's sub, without b.txt, is the second's sub.
      const b = (await entryAt(repo, first.snapshot.tree, 'sub/b.txt')) as FileEntry;
      const sub2 = (await entryAt(repo, second.snapshot.tree, 'sub')) as DirEntry;
      await rm(join(dir, blobKey('data', b.chunks[0]!.id)));
      if (loss === 'corrupt') await flipLastByte(join(dir, blobKey('tree', sub2.tree)));
      else await rm(join(dir, blobKey('tree', sub2.tree)));
      await repairSnapshots(await open(dir, withInventory), { forget: true });
      expect(await problems(dir)).toEqual([]);
    });
  }

  it('run again after stopping among its deletions, finishes them', async () => {
    const { src, dir, statCacheDir } = await backupLosingDeepChunk();
    // The root goes first (parents first); the run stops at the next node.
    const stopping = await openRepositoryIn(new StopsAtTreeDelete(new LocalBackend(dir), 2));
    await expect(repairSnapshots(stopping, { forget: true })).rejects.toThrow(/stopped/);
    // The original was forgotten before the deletions; the nodes left below the deleted
    // root are found in the listing of tree/.
    const rerun = await repairSnapshots(await open(dir), { forget: true });
    expect(rerun).toMatchObject({ repaired: [], superseded: [], intact: 1, deletedTrees: 2 });
    expect(await problems(dir)).toEqual([]);
    await backup(await open(dir), { paths: [src], statCacheDir });
    expect(await problems(dir)).toEqual([]);
  });

  it('a full repair finds the damaged nodes of an original a selected repair forgot', async () => {
    const { src, dir, statCacheDir } = await backupLosingDeepChunk();
    const selected = await repairSnapshots(await open(dir), {
      snapshots: ['latest'],
      forget: true,
    });
    expect(selected).toMatchObject({ complete: false, deletedTrees: 0, forgotten: 1 });
    const whole = await repairSnapshots(await open(dir), { forget: true });
    expect(whole).toMatchObject({ complete: true, damagedTrees: 3, deletedTrees: 3 });
    await backup(await open(dir), { paths: [src], statCacheDir });
    expect(await problems(dir)).toEqual([]);
  });

  it('deletes what a forgotten, unpruned snapshot kept of a loss, so a sync sends it again', async () => {
    const src = await tempDir();
    await writeTree(src, { keep: { 'k.txt': 'k'.repeat(300) }, old: { 'o.txt': 'o'.repeat(600) } });
    const { repo, dir: a } = await localRepo();
    const s0 = await backup(repo, { paths: [src], statCacheDir: false });
    await rm(join(src, 'old'), { recursive: true });
    await backup(repo, { paths: [src], statCacheDir: false });
    const b = await tempDir('cairn-b-');
    await cp(a, b, { recursive: true });
    await forget(await open(b), { snapshots: [s0.snapshotId!] });
    const o = (await entryAt(repo, s0.snapshot.tree, 'old/o.txt')) as FileEntry;
    await rm(join(b, blobKey('data', o.chunks[0]!.id)));
    const report = await repairSnapshots(await open(b), { forget: true });
    expect(report).toMatchObject({ repaired: [], intact: 1, damagedTrees: 2, deletedTrees: 2 });
    expect(await problems(b)).toEqual([]);
    await sync(await open(a), await open(b));
    expect(await problems(b)).toEqual([]);
  });

  it('a corrupt node deleted by repair is sent again by a sync', async () => {
    const src = await tempDir();
    await writeTree(src, { sub: { 'c.txt': 'c'.repeat(600) }, 'x.txt': 'x'.repeat(300) });
    const { repo, dir: a } = await localRepo();
    const s = await backup(repo, { paths: [src], statCacheDir: false });
    const b = await tempDir('cairn-b-');
    await cp(a, b, { recursive: true });
    const sub = (await entryAt(repo, s.snapshot.tree, 'sub')) as DirEntry;
    await flipLastByte(join(b, blobKey('tree', sub.tree)));
    await repairSnapshots(await open(b), { forget: true });
    expect(await problems(b)).toEqual([]);
    await sync(await open(a), await open(b));
    expect(await problems(b)).toEqual([]);
  });

  it('with readData reads every chunk of a file already found damaged', async () => {
    const src = await tempDir();
    await writeTree(src, { 'big.bin': 'big file content '.repeat(400) });
    const { repo, dir } = await localRepo();
    const s = await backup(repo, { paths: [src], statCacheDir: false });
    const big = (await entryAt(repo, s.snapshot.tree, 'big.bin')) as FileEntry;
    const ids = [...new Set(big.chunks.map((c) => c.id))];
    await rm(join(dir, blobKey('data', ids[0]!)));
    await flipLastByte(join(dir, blobKey('data', ids[1]!)));
    const report = await repairSnapshots(await open(dir), { readData: true, forget: true });
    expect(report).toMatchObject({ missingBlobs: 1, damagedBlobs: 1, deletedBlobs: 1 });
    expect(await problems(dir)).toEqual([]);
    await backup(await open(dir), { paths: [src], statCacheDir: false, force: true });
    expect(await problems(dir)).toEqual([]);
  });

  it('latest among records one of which cannot be read: repaired, the other reported', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo, dir } = await localRepo();
    const first = await backup(repo, { paths: [src], statCacheDir: false });
    const e = (await entryAt(repo, first.snapshot.tree, 'other/e.txt')) as FileEntry;
    await writeFile(join(src, 'new.txt'), 'new');
    const second = await backup(repo, { paths: [src], statCacheDir: false });
    await rm(join(dir, blobKey('data', e.chunks[0]!.id)));
    await writeFile(join(dir, snapshotKey(first.snapshotId!)), 'not a record');
    const report = await repairSnapshots(await open(dir), { snapshots: ['latest'] });
    expect(report.unreadable.map((u) => u.id)).toEqual([first.snapshotId]);
    expect(report.repaired.map((r) => r.from)).toEqual([second.snapshotId]);
  });
});
