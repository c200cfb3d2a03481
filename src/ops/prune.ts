/**
 * `prune`: deletes blobs no snapshot references, safely while other clients back up.
 *
 * Two phases, in separate runs separated by a grace period (docs/design.md, "Prune"):
 * - *mark*: list the snapshots, walk their trees, list `data/` and `tree/`, and record
 *   the unreferenced blobs with the time in `prune/candidates`. Nothing is deleted.
 * - *sweep* (a later run, once the grace period has passed since the mark): set the
 *   `sweeping` flag on prune's lock, then look at the locks. If any backup holds a
 *   shared lock, postpone (prune never waits and never blocks for long). Otherwise walk
 *   the snapshots again and delete the candidates still stored and still unreferenced:
 *   tree nodes first, then data, after publishing a new prune epoch. Backups that start
 *   meanwhile see the flag and wait for the sweep to end.
 *
 * Backup reuses a directory from its stat cache when the directory's root node is
 * stored, trusting that everything below a stored tree node is stored too. The sweep
 * keeps that true at every moment, so that a sweep killed half-way is safe: it deletes
 * tree nodes parents first (level by level), then data; and it keeps the candidates
 * that trees written since the mark still reference (the work of a backup that died
 * before committing its snapshot; the next mark lists those trees, and a later sweep
 * deletes them together with what they reference).
 *
 * Every run sweeps what is due, then marks afresh. With `graceMs: 0` a run marks and
 * sweeps at once.
 *
 * The sets of referenced and stored blobs are ExternalSortSets
 * (src/repo/external-sort-set.ts: filled, then read), those that need lookups while
 * they grow (trees seen, blobs kept) DiskSets (src/repo/disk-set.ts); in memory for
 * small repositories, on disk under the cache directory for large ones, compared by
 * merge-joins in key order. The candidate list is written and read in parts
 * (prune-state.ts), and the blobs a sweep deletes are another ExternalSortSet: only the
 * doomed tree nodes, which must be ordered parents first, are held in memory.
 */
import { join } from 'node:path';
import type { Backend } from '../backends/backend.js';
import { ForwardingBackend } from '../backends/forwarding.js';
import { LocalBackend } from '../backends/local.js';
import { shareSignal, throwIfAborted } from '../core/abort.js';
import { CairnError, hasCode } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { forEachConcurrent } from '../core/limit.js';
import { BlobStore } from '../repo/blob-store.js';
import { closeAll, DiskSet, type DiskSetOptions, SortedCursor } from '../repo/disk-set.js';
import { ExternalSortSet } from '../repo/external-sort-set.js';
import { blobIdOfKey, blobKey, blobPrefix, idOfKey } from '../repo/layout.js';
import { Lock, underLock, writersInProgress } from '../repo/locks.js';
import {
  bumpPruneEpoch,
  CandidateWriter,
  candidateKeys,
  PRUNE_CANDIDATES_KEY,
  type PruneCandidates,
  readCandidates,
  removeCandidates,
} from '../repo/prune-state.js';
import type { Repository } from '../repo/repository.js';
import { TreeReader } from '../repo/tree-store.js';

/** Default grace period between mark and sweep. */
export const DEFAULT_PRUNE_GRACE_MS = 60 * 60_000;

/** Options for `prune`. */
export interface PruneOptions {
  /** Report what would be deleted now; write and delete nothing, take no lock. */
  dryRun?: boolean;
  /** Time a mark must age before its candidates are deleted (default 1 hour). */
  graceMs?: number;
  /** An exclusive lock the caller already holds (forget --prune); else one is taken. */
  lock?: Lock;
  /** Deletes in flight at once (default 16). */
  concurrency?: number;
  /** Clock, for tests. */
  now?: () => number;
  signal?: AbortSignal;
  /** Called with what a caller should say at once, not after the deletions. */
  onEvent?: (event: PruneEvent) => void;
}

/**
 * Something prune says as it happens: `candidates-dropped` when the candidate list of
 * the last mark is damaged and dropped (before anything is deleted; the report's
 * `droppedCandidates` says it again).
 */
export type PruneEvent = {
  type: 'notice';
  code: 'candidates-dropped';
  message: string;
  /** The candidate list's object. */
  path: string;
};

/** What `prune` did. */
export interface PruneReport {
  snapshots: number;
  /** Blobs (tree and data) the snapshots reference. */
  referencedBlobs: number;
  /** Blobs stored but unreferenced now. */
  unreferencedBlobs: number;
  unreferencedBytes: number;
  /** Whether a sweep ran (deleted what was due). */
  swept: boolean;
  /** Why a due sweep was postponed (backups in progress). */
  postponed?: string;
  deletedTrees: number;
  deletedData: number;
  deletedBytes: number;
  /** Candidates recorded by this run's mark, waiting for the grace period. */
  marked: number;
  /** When the recorded candidates may be deleted (ISO 8601), if any are waiting. */
  sweepAfter?: string;
  /** Temporary files of killed writers removed (local repositories). */
  tempFilesRemoved: number;
  /**
   * Why the candidate list was dropped unread, when it was damaged: its blobs are
   * marked afresh (if still unreferenced) and deleted a grace period later.
   */
  droppedCandidates?: string;
  dryRun: boolean;
}

/**
 * The referenced and stored blobs of a repository at one moment, by key, in sealed
 * ExternalSortSets (memory stays the same whatever the repository's size); `withScan`
 * removes them.
 */
interface Scan {
  snapshots: number;
  referenced: ExternalSortSet;
  /** Stored blob key -> size. */
  stored: ExternalSortSet;
}

/** Prunes `repo`. */
export async function prune(repo: Repository, options: PruneOptions = {}): Promise<PruneReport> {
  shareSignal(options.signal);
  const { signal } = options;
  const now = options.now ?? Date.now;
  const graceMs = options.graceMs ?? DEFAULT_PRUNE_GRACE_MS;
  if (!(graceMs >= 0)) throw new RangeError(`grace period must be >= 0 ms, got ${graceMs}`);
  const report: PruneReport = {
    snapshots: 0,
    referencedBlobs: 0,
    unreferencedBlobs: 0,
    unreferencedBytes: 0,
    swept: false,
    deletedTrees: 0,
    deletedData: 0,
    deletedBytes: 0,
    marked: 0,
    tempFilesRemoved: 0,
    dryRun: options.dryRun ?? false,
  };

  if (options.dryRun) {
    await withScan(repo, signal, (scan) => summarize(report, scan));
    report.tempFilesRemoved = await removeStaleTempFiles(repo.backend, true);
    return report;
  }

  const lock =
    options.lock ??
    (await Lock.acquire(repo.backend, {
      exclusive: true,
      operation: 'prune',
      ...(signal ? { signal } : {}),
    }));
  // A lock given by the caller (forget --prune) is the caller's to release.
  return underLock(options.lock ? undefined : lock, async () => {
    const previous = await readOrDrop(repo, report, options);
    const due = previous !== undefined && now() - Date.parse(previous.time) >= graceMs;
    if (previous && due) await sweep(repo, lock, previous, report, options);
    if (previous && !due) {
      // Keep the older mark (re-marking would restart its grace period forever).
      await withScan(repo, signal, (scan) => summarize(report, scan));
    } else if (report.postponed === undefined) {
      const marked = await mark(repo, report, now, signal);
      if (graceMs === 0 && marked) await sweep(repo, lock, marked, report, options);
    } else {
      // The due sweep was postponed before it counted anything: the report's counts
      // come from a scan, as for a mark not yet due (else they would read 0).
      await withScan(repo, signal, (scan) => summarize(report, scan));
    }
    report.tempFilesRemoved = await removeStaleTempFiles(repo.backend);
    const waiting = await readCandidates(repo.backend, { signal });
    if (waiting) {
      report.marked = waiting.count;
      report.sweepAfter = new Date(Date.parse(waiting.time) + graceMs).toISOString();
    }
    return report;
  });
}

/**
 * The candidate list of the last mark; a damaged one is dropped (and the reason
 * reported), so that prune marks afresh instead of failing on it run after run.
 * Dropping a list only postpones deletion.
 */
async function readOrDrop(
  repo: Repository,
  report: PruneReport,
  options: PruneOptions,
): Promise<PruneCandidates | undefined> {
  try {
    return await readCandidates(repo.backend, { signal: options.signal });
  } catch (err) {
    if (!hasCode(err, 'format')) throw err;
    await dropCandidates(repo, report, err, options);
    return undefined;
  }
}

/** Drops a damaged candidate list, saying so at once (onEvent) and in the report. */
async function dropCandidates(
  repo: Repository,
  report: PruneReport,
  err: unknown,
  options: PruneOptions,
): Promise<void> {
  const reason = err instanceof Error ? err.message : String(err);
  report.droppedCandidates = reason;
  options.onEvent?.({
    type: 'notice',
    code: 'candidates-dropped',
    message: `the candidate list of the last mark was damaged and is dropped (${reason}); unreferenced blobs are marked afresh`,
    path: PRUNE_CANDIDATES_KEY,
  });
  await removeCandidates(repo.backend, { signal: options.signal });
}

/**
 * Removes temporary files that writers killed mid-put left in a local repository. A file
 * an hour old belongs to no live writer: a put writes its temporary file in one go.
 */
async function removeStaleTempFiles(backend: Backend, dryRun = false): Promise<number> {
  let base = backend;
  while (base instanceof ForwardingBackend) base = base.inner;
  return base instanceof LocalBackend ? base.cleanupTemp(60 * 60 * 1000, dryRun) : 0;
}

/** Records the currently unreferenced blobs as candidates (or removes an empty list). */
async function mark(
  repo: Repository,
  report: PruneReport,
  now: () => number,
  signal?: AbortSignal,
): Promise<PruneCandidates | undefined> {
  const time = new Date(now()).toISOString();
  // The keys go to the list's parts as they come (prune-state.ts): none are held.
  const writer = new CandidateWriter(repo.backend, { signal });
  await withScan(repo, signal, (scan) => summarize(report, scan, (key) => writer.add(key)));
  return writer.finish(time);
}

/** Deletes the candidates still unreferenced, unless a backup is running. */
async function sweep(
  repo: Repository,
  lock: Lock,
  candidates: PruneCandidates,
  report: PruneReport,
  options: PruneOptions,
): Promise<void> {
  const { signal } = options;
  await lock.setSweeping(true);
  try {
    // Any writer whose lock we cannot see now will see our flag and wait for us.
    const busy = await writersInProgress(repo.backend, lock.id, signal ? { signal } : {});
    if (busy) {
      report.postponed = `${busy}; run prune again later`;
      return;
    }
    let damaged: unknown;
    await withScan(repo, signal, async (scan) => {
      await summarize(report, scan);
      const trees = TreeReader.forSingleWalk(new BlobStore(repo.backend, { codec: repo.codec }));
      const marked = new ExternalSortSet(setOptions(repo));
      const doomed = new ExternalSortSet(setOptions(repo));
      let kept: DiskSet | undefined;
      try {
        try {
          // Every part is read (and checked) before anything is deleted.
          for await (const k of candidateKeys(repo.backend, candidates, { signal }))
            await marked.add(k);
        } catch (err) {
          if (!hasCode(err, 'format')) throw err;
          damaged = err;
          return;
        }
        kept = await referencedByNewTrees(repo, trees, scan, marked, signal);
        await stillUnreferenced(scan, marked, kept, doomed);
        await marked.close();
        await kept.close();
        if ((await doomed.count()) > 0) await deleteDoomed(repo, trees, doomed, report, options);
      } finally {
        await closeAll(marked, kept, doomed);
      }
    });
    if (damaged) {
      await dropCandidates(repo, report, damaged, options);
      return;
    }
    await removeCandidates(repo.backend, { signal });
    report.swept = true;
  } finally {
    await lock.setSweeping(false);
  }
}

/** Options for the sets of a prune run: their temporary files go under the cache. */
function setOptions(repo: Repository): DiskSetOptions {
  return { dir: join(repo.cacheDir, 'tmp') };
}

/**
 * Adds to `doomed` the candidates still stored, still unreferenced and not kept, with
 * their sizes (one merge-join of the sorted sets).
 */
async function stillUnreferenced(
  scan: Scan,
  marked: ExternalSortSet,
  kept: DiskSet,
  doomed: ExternalSortSet,
): Promise<void> {
  const stored = new SortedCursor(scan.stored.entries());
  const referenced = new SortedCursor(scan.referenced.entries());
  const keptCursor = new SortedCursor(kept.entries());
  try {
    for await (const key of marked.keys()) {
      const size = await stored.seek(key);
      if (size === undefined || (await referenced.has(key)) || (await keptCursor.has(key)))
        continue;
      await doomed.add(key, size);
    }
  } finally {
    await stored.close();
    await referenced.close();
    await keptCursor.close();
  }
}

/**
 * Deletes `doomed` (key -> size): after publishing a new epoch, trees first, parents
 * before children, then data: a stored tree node must always imply that everything
 * below it is stored, even if this process dies mid-way. The tree nodes are held in
 * memory (to order them); the data keys stream from the set.
 */
async function deleteDoomed(
  repo: Repository,
  trees: TreeReader,
  doomed: ExternalSortSet,
  report: PruneReport,
  options: PruneOptions,
): Promise<void> {
  const { signal } = options;
  const concurrency = options.concurrency ?? 16;
  await bumpPruneEpoch(repo.backend, { signal });
  const treeSizes = new Map<string, number>();
  for await (const [key, size] of doomed.entries()) {
    if (key.startsWith('tree/')) treeSizes.set(key, size);
  }
  const deleted = async (key: string, size: number) => {
    await repo.backend.delete(key, { signal });
    report.deletedBytes += size;
    report.unreferencedBlobs--;
    report.unreferencedBytes -= size;
  };
  for (const level of await parentsFirst(trees, [...treeSizes.keys()], signal)) {
    await forEachConcurrent(level, concurrency, async (key) => {
      await deleted(key, treeSizes.get(key)!);
      report.deletedTrees++;
    });
  }
  await forEachConcurrent(dataEntries(doomed), concurrency, async ([key, size]) => {
    await deleted(key, size);
    report.deletedData++;
  });
  await repo.inventory?.invalidate();
}

/** The data blobs of a set of blob keys, with their values. */
async function* dataEntries(set: ExternalSortSet): AsyncGenerator<[string, number]> {
  for await (const entry of set.entries()) if (entry[0].startsWith('data/')) yield entry;
}

/** The blob keys one tree node references directly: pages, subdirectories, chunks. */
async function nodeChildren(
  trees: TreeReader,
  id: ObjectId,
  signal?: AbortSignal,
): Promise<string[]> {
  const node = await trees.node(id, signal);
  if (node.kind === 'index') return node.pages.map((p) => blobKey('tree', p.tree));
  const keys: string[] = [];
  for (const e of node.entries) {
    if (e.kind === 'dir') keys.push(blobKey('tree', e.tree));
    else if (e.kind === 'file') for (const c of e.chunks) keys.push(blobKey('data', c.id));
  }
  return keys;
}

/**
 * `nodeChildren`, or none when the node cannot be read (a missing or damaged node
 * references nothing anyone can reach through it).
 */
async function readableChildren(
  trees: TreeReader,
  key: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const id = idOfKey(key);
  if (id === undefined) return [];
  try {
    return await nodeChildren(trees, id, signal);
  } catch (err) {
    if (hasCode(err, 'aborted') || hasCode(err, 'backend')) throw err;
    return [];
  }
}

/**
 * Everything below the tree nodes that are stored but neither referenced by a snapshot
 * nor listed by the mark: nodes written since the mark by a writer that has not
 * committed. No writer is live during a sweep (it would have postponed), so they belong
 * to one that died, whose stat cache the next backup reuses.
 */
async function referencedByNewTrees(
  repo: Repository,
  trees: TreeReader,
  scan: Scan,
  candidates: ExternalSortSet,
  signal?: AbortSignal,
): Promise<DiskSet> {
  // The queue holds only such unreferenced, unmarked trees (garbage of killed writers).
  const queue: string[] = [];
  const referenced = new SortedCursor(scan.referenced.entries());
  const marked = new SortedCursor(candidates.entries());
  try {
    for await (const key of scan.stored.keys()) {
      if (!key.startsWith('tree/')) continue;
      if (!(await referenced.has(key)) && !(await marked.has(key))) queue.push(key);
    }
  } finally {
    await referenced.close();
    await marked.close();
  }
  const kept = new DiskSet(setOptions(repo));
  try {
    while (queue.length > 0) {
      throwIfAborted(signal);
      for (const child of await readableChildren(trees, queue.pop()!, signal)) {
        if ((await kept.has(child)) || (await scan.referenced.has(child))) continue;
        await kept.add(child);
        if (child.startsWith('tree/')) queue.push(child);
      }
    }
  } catch (err) {
    await kept.close();
    throw err;
  }
  return kept;
}

/**
 * Groups tree keys into levels to delete one after the other: a node comes in a later
 * level than every doomed node that references it.
 */
async function parentsFirst(
  trees: TreeReader,
  keys: string[],
  signal?: AbortSignal,
): Promise<string[][]> {
  const doomed = new Set(keys);
  const children = new Map<string, string[]>();
  await forEachConcurrent(keys, 16, async (key) => {
    children.set(
      key,
      (await readableChildren(trees, key, signal)).filter((c) => c !== key && doomed.has(c)),
    );
  });
  // Longest path from a node no doomed node references; ids are hashes, so no cycles.
  const depth = new Map<string, number>();
  const indegree = new Map<string, number>(keys.map((k) => [k, 0]));
  for (const cs of children.values()) for (const c of cs) indegree.set(c, indegree.get(c)! + 1);
  let frontier = keys.filter((k) => indegree.get(k) === 0);
  for (const k of frontier) depth.set(k, 0);
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const k of frontier) {
      for (const c of children.get(k) ?? []) {
        depth.set(c, Math.max(depth.get(c) ?? 0, depth.get(k)! + 1));
        const left = indegree.get(c)! - 1;
        indegree.set(c, left);
        if (left === 0) next.push(c);
      }
    }
    frontier = next;
  }
  const levels = new Map<number, string[]>();
  for (const k of keys) {
    const d = depth.get(k) ?? 0;
    const level = levels.get(d);
    if (level) level.push(k);
    else levels.set(d, [k]);
  }
  return [...levels.keys()].sort((a, b) => a - b).map((d) => levels.get(d)!);
}

/**
 * Fills the report's counts from `scan`; calls `onUnreferenced` for each stored blob no
 * snapshot references, in key order.
 */
async function summarize(
  report: PruneReport,
  scan: Scan,
  onUnreferenced?: (key: string, size: number) => Promise<void> | undefined,
): Promise<void> {
  report.snapshots = scan.snapshots;
  report.referencedBlobs = await scan.referenced.count();
  report.unreferencedBlobs = 0;
  report.unreferencedBytes = 0;
  const referenced = new SortedCursor(scan.referenced.entries());
  try {
    for await (const [key, size] of scan.stored.entries()) {
      if (await referenced.has(key)) continue;
      report.unreferencedBlobs++;
      report.unreferencedBytes += size;
      const written = onUnreferenced?.(key, size);
      if (written) await written;
    }
  } finally {
    await referenced.close();
  }
}

/** Scans the repository, runs `fn` on the scan, and removes the scan's sets. */
async function withScan<T>(
  repo: Repository,
  signal: AbortSignal | undefined,
  fn: (scan: Scan) => Promise<T>,
): Promise<T> {
  const referenced = new ExternalSortSet(setOptions(repo));
  const stored = new ExternalSortSet(setOptions(repo));
  try {
    const snapshots = await scanRepository(repo, referenced, stored, signal);
    return await fn({ snapshots, referenced, stored });
  } finally {
    await closeAll(referenced, stored);
  }
}

/**
 * Lists the snapshots, walks every tree (each node once) into `referenced` and lists the
 * stored blobs into `stored`; resolves the number of snapshots.
 * Any unreadable snapshot or tree node aborts prune: what it references is unknown.
 */
async function scanRepository(
  repo: Repository,
  referenced: ExternalSortSet,
  stored: ExternalSortSet,
  signal?: AbortSignal,
): Promise<number> {
  // No inventory: prune must see the truth.
  const blobs = new BlobStore(repo.backend, { codec: repo.codec });
  const trees = TreeReader.forSingleWalk(blobs);
  const ids = await repo.snapshots.ids(signal);
  const roots: ObjectId[] = [];
  for (const id of ids) {
    try {
      roots.push((await repo.snapshots.load(id, signal)).tree);
    } catch (err) {
      // Its data would look unreferenced: prune stops, and says how to go on.
      if (!hasCode(err, 'format') && !hasCode(err, 'integrity')) throw err;
      throw new CairnError(
        (err as CairnError).code,
        `${(err as Error).message}; prune cannot tell what snapshot ${id} references: remove it with 'cairn forget ${id}' (its data is then pruned too) or restore the record`,
        { cause: err },
      );
    }
  }
  const seen = new DiskSet(setOptions(repo));
  try {
    const visit = async (tree: ObjectId): Promise<void> => {
      if (!(await seen.addNew(tree))) return;
      throwIfAborted(signal);
      const nodes: ObjectId[] = [];
      for await (const e of trees.entries(tree, signal, (n) => nodes.push(n))) {
        if (e.kind === 'file') {
          for (const c of e.chunks) await referenced.add(blobKey('data', c.id));
        } else if (e.kind === 'dir') await visit(e.tree);
      }
      for (const n of nodes) await referenced.add(blobKey('tree', n));
    };
    for (const root of roots) await visit(root);
  } finally {
    await seen.close();
  }
  for (const kind of ['tree', 'data'] as const) {
    for await (const info of repo.backend.list(blobPrefix(kind), { signal })) {
      // Only objects named as blobs are (a stray `data/zz/<id>` is not cairn's to delete).
      if (blobIdOfKey(kind, info.key)) await stored.add(info.key, info.size);
    }
  }
  return ids.length;
}
