/**
 * `selectionStats`: the distinct data blobs a set of snapshots references, their content
 * and stored sizes, and those no other snapshot references (what forget and prune of the
 * set would free), checked against the trees and the backend; a missing blob is counted.
 */
import { describe, expect, it } from 'vitest';
import type { ObjectId } from '../../src/core/ids.js';
import { backup } from '../../src/ops/backup.js';
import { forget } from '../../src/ops/forget.js';
import { prune } from '../../src/ops/prune.js';
import { selectionStats } from '../../src/ops/selection-stats.js';
import { walkTree } from '../../src/ops/walk.js';
import { blobKey } from '../../src/repo/layout.js';
import type { Repository } from '../../src/repo/repository.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { memoryRepo } from '../helpers/repo.js';

/** Distinct chunk ids (with sizes) of `tree`. */
async function chunksOf(repo: Repository, tree: ObjectId): Promise<Map<ObjectId, number>> {
  const out = new Map<ObjectId, number>();
  for await (const { entry } of walkTree(repo, tree)) {
    if (entry.kind === 'file') for (const c of entry.chunks) out.set(c.id, c.size);
  }
  return out;
}

const text = (seed: string) =>
  Array.from({ length: 400 }, (_, i) => `${seed} line ${i}\n`).join('');

describe('selectionStats', () => {
  it('counts what a selection references, and what only it does', async () => {
    const repo = await memoryRepo();
    const one = await tempDir();
    await writeTree(one, { 'x.txt': text('only in one'), 'y.txt': text('shared') });
    const two = await tempDir();
    await writeTree(two, { 'y.txt': text('shared'), 'z.txt': text('only in two') });
    const a = await backup(repo, { paths: [one], statCacheDir: false });
    const b = await backup(repo, { paths: [two], statCacheDir: false });
    const all = await repo.snapshots.list();
    const refA = all.find((r) => r.id === a.snapshotId)!;

    const s = await selectionStats(repo, [refA], { all });
    const mine = await chunksOf(repo, a.snapshot.tree);
    const theirs = await chunksOf(repo, b.snapshot.tree);
    const only = [...mine.keys()].filter((id) => !theirs.has(id));
    const sizeOf = async (id: ObjectId) => (await repo.backend.stat(blobKey('data', id)))!.size;
    let stored = 0;
    for (const id of mine.keys()) stored += await sizeOf(id);
    let onlyStored = 0;
    for (const id of only) onlyStored += await sizeOf(id);
    expect(only.length).toBeGreaterThan(0);
    expect(only.length).toBeLessThan(mine.size);
    expect(s).toEqual({
      snapshots: 1,
      files: 2,
      restoreBytes: a.snapshot.summary.bytes,
      trees: 1,
      dataBlobs: mine.size,
      contentBytes: [...mine.values()].reduce((n, v) => n + v, 0),
      storedBytes: stored,
      exclusiveBlobs: only.length,
      exclusiveContentBytes: only.reduce((n, id) => n + mine.get(id)!, 0),
      exclusiveStoredBytes: onlyStored,
      missingBlobs: 0,
    });

    // What it says forget and prune would free, they free.
    const before = await dataBytes(repo);
    await forget(repo, { snapshots: [a.snapshotId!] });
    await prune(repo, { graceMs: 0 });
    await prune(repo, { graceMs: 0 });
    expect(before - (await dataBytes(repo))).toBe(onlyStored);

    // Both selected: nothing is another's; a missing blob is counted.
    const b2 = await repo.snapshots.list();
    await repo.backend.delete(blobKey('data', [...theirs.keys()][0]!));
    const both = await selectionStats(repo, b2, { all: b2 });
    expect(both).toMatchObject({ exclusiveBlobs: both.dataBlobs, missingBlobs: 1 });
  });
});

async function dataBytes(repo: Repository): Promise<number> {
  let n = 0;
  for await (const info of repo.backend.list('data/')) n += info.size;
  return n;
}
