/**
 * `stats SNAPSHOT...` (or with filters): what a set of snapshots holds and takes, and
 * what they alone take, which `forget` of them and then `prune` would free. Every tree
 * of the selection is walked once (shared subtrees once), collecting the data blobs it
 * references; then the other snapshots' trees, collecting theirs; a merge of the sorted
 * sets and one listing of the stored blobs give the sizes. The sets move to disk when
 * large (as check's do), so memory does not grow with the repository.
 */
import { join } from 'node:path';
import type { ObjectId } from '../core/ids.js';
import { closeAll, DiskSet, SortedCursor } from '../repo/disk-set.js';
import { ExternalSortSet } from '../repo/external-sort-set.js';
import { blobIdOfKey, blobPrefix } from '../repo/layout.js';
import type { Repository } from '../repo/repository.js';
import type { SnapshotRef } from '../repo/snapshots.js';

/** What `selectionStats` finds. */
export interface SelectionStats {
  snapshots: number;
  /** Files and bytes restoring every selected snapshot would write (their summaries). */
  files: number;
  restoreBytes: number;
  /** Distinct tree nodes and data blobs the selection references. */
  trees: number;
  dataBlobs: number;
  /** Their content (chunk bytes before compression and encryption), each counted once. */
  contentBytes: number;
  /** Their stored size (what the repository holds for them). */
  storedBytes: number;
  /** Data blobs no other snapshot references, their content and stored size. */
  exclusiveBlobs: number;
  exclusiveContentBytes: number;
  exclusiveStoredBytes: number;
  /** Referenced data blobs the repository does not hold (`cairn check` says more). */
  missingBlobs: number;
}

export interface SelectionStatsOptions {
  /** Every snapshot of the repository (the ones not selected are walked for `exclusive`). */
  all: readonly SnapshotRef[];
  signal?: AbortSignal;
  /**
   * Called now and then with the tree nodes walked so far, then (`list`) the data blobs
   * listed so far.
   */
  onProgress?: (phase: 'trees' | 'list', count: number) => void;
}

export async function selectionStats(
  repo: Repository,
  selected: readonly SnapshotRef[],
  options: SelectionStatsOptions,
): Promise<SelectionStats> {
  const { signal } = options;
  const chosen = new Set(selected.map((r) => r.id));
  const others = options.all.filter((r) => !chosen.has(r.id));
  const setOptions = { dir: join(repo.cacheDir, 'tmp') };
  const mine = new ExternalSortSet(setOptions);
  const theirs = new ExternalSortSet(setOptions);
  const stored = new ExternalSortSet(setOptions);
  const result: SelectionStats = {
    snapshots: selected.length,
    files: selected.reduce((n, r) => n + r.snapshot.summary.files, 0),
    restoreBytes: selected.reduce((n, r) => n + r.snapshot.summary.bytes, 0),
    trees: 0,
    dataBlobs: 0,
    contentBytes: 0,
    storedBytes: 0,
    exclusiveBlobs: 0,
    exclusiveContentBytes: 0,
    exclusiveStoredBytes: 0,
    missingBlobs: 0,
  };
  let walked = 0;
  const walk = async (roots: readonly SnapshotRef[], into: ExternalSortSet): Promise<number> => {
    const seen = new DiskSet(setOptions);
    let nodes = 0;
    const visit = async (tree: ObjectId): Promise<void> => {
      if (!(await seen.addNew(tree))) return;
      nodes++;
      if (++walked % 256 === 0) options.onProgress?.('trees', walked);
      for await (const e of repo.trees.entries(tree, signal)) {
        if (e.kind === 'file') for (const c of e.chunks) await into.add(c.id, c.size);
        else if (e.kind === 'dir') await visit(e.tree);
      }
    };
    try {
      for (const { snapshot } of roots) await visit(snapshot.tree);
    } finally {
      await seen.close();
    }
    return nodes;
  };
  try {
    result.trees = await walk(selected, mine);
    await walk(others, theirs);
    let listed = 0;
    for await (const info of repo.backend.list(blobPrefix('data'), { signal })) {
      const id = blobIdOfKey('data', info.key);
      if (id) await stored.add(id, info.size);
      if (++listed % 1000 === 0) options.onProgress?.('list', listed);
    }
    const storedCursor = new SortedCursor(stored.entries());
    const theirsCursor = new SortedCursor(theirs.entries());
    try {
      for await (const [id, size] of mine.entries()) {
        result.dataBlobs++;
        result.contentBytes += size;
        const storedSize = await storedCursor.seek(id);
        if (storedSize === undefined) result.missingBlobs++;
        else result.storedBytes += storedSize;
        if (await theirsCursor.has(id)) continue;
        result.exclusiveBlobs++;
        result.exclusiveContentBytes += size;
        result.exclusiveStoredBytes += storedSize ?? 0;
      }
    } finally {
      await closeAll(storedCursor, theirsCursor);
    }
  } finally {
    await closeAll(mine, theirs, stored);
  }
  return result;
}
