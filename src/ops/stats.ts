/** `stats`: how big the repository is and how well it deduplicates. */
import { blobPrefix } from '../repo/layout.js';
import type { Repository } from '../repo/repository.js';

/** Repository statistics. */
export interface RepoStats {
  snapshots: number;
  /** Snapshot records that cannot be read (not in `snapshots` nor `logicalBytes`). */
  unreadableSnapshots: number;
  /** Sum of the file bytes of every snapshot (what restoring them all would write). */
  logicalBytes: number;
  dataBlobs: number;
  dataBytes: number;
  treeBlobs: number;
  treeBytes: number;
  /** Objects in the backend (blobs, snapshots, config, locks...). */
  objects: number;
  /** Bytes in the backend. */
  storedBytes: number;
  /** logicalBytes / storedBytes. */
  dedupRatio: number;
}

/**
 * Computes statistics by listing the backend and reading snapshot records. Records that
 * cannot be read are counted in `unreadableSnapshots` (their bytes are unknown).
 * `onProgress` is told the objects listed so far, now and then (every 1,000).
 */
export async function stats(
  repo: Repository,
  signal?: AbortSignal,
  onProgress?: (objects: number) => void,
): Promise<RepoStats> {
  let unreadable = 0;
  const snapshots = await repo.snapshots.list({}, signal, () => {
    unreadable++;
  });
  const s: RepoStats = {
    snapshots: snapshots.length,
    unreadableSnapshots: unreadable,
    logicalBytes: snapshots.reduce((n, r) => n + r.snapshot.summary.bytes, 0),
    dataBlobs: 0,
    dataBytes: 0,
    treeBlobs: 0,
    treeBytes: 0,
    objects: 0,
    storedBytes: 0,
    dedupRatio: 0,
  };
  for await (const info of repo.backend.list('', { signal })) {
    s.objects++;
    if (s.objects % 1000 === 0) onProgress?.(s.objects);
    s.storedBytes += info.size;
    if (info.key.startsWith(blobPrefix('data'))) {
      s.dataBlobs++;
      s.dataBytes += info.size;
    } else if (info.key.startsWith(blobPrefix('tree'))) {
      s.treeBlobs++;
      s.treeBytes += info.size;
    }
  }
  s.dedupRatio = s.storedBytes > 0 ? s.logicalBytes / s.storedBytes : 0;
  return s;
}
