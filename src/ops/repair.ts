/**
 * `repair snapshots`: makes snapshots that reference lost or damaged objects whole
 * again, by leaving out what cannot be restored (the tree work is in repair-trees.ts).
 *
 * - A file with a chunk that is missing from `data/`, too short to be a blob, or (with
 *   `readData`) fails its hash or does not decode, is removed from the snapshot.
 * - A directory whose tree node cannot be read (missing, corrupt, or not fitting its
 *   index) keeps its entry, empty; a page of a large directory that cannot be read
 *   takes only its own entries with it (TreeReader.salvage).
 * Each snapshot with damage gets a new record, placed as `rewrite` places its own
 * (replacement.ts: same time, ranked above the original, `original` naming it, counts of
 * what is left); the original is deleted with `forget`, else kept. An original that a
 * later rewrite or repair of the same backup replaced is left alone, named or not: its
 * repair would outrank that one.
 *
 * Then the repository's promise is made true again: a stored tree node means that
 * everything below it is stored (backups reuse a directory's tree when its node is
 * there, sync skips a subtree the destination has). When every snapshot was examined,
 * every stored tree node that leads to damage is deleted, parents first, as prune
 * deletes: those the walk met, and, from a listing of `tree/`, those it did not (a
 * forgotten snapshot's not yet pruned, a killed backup's, those a repair stopped before
 * deleting). A later backup of those directories writes them again, reading each file
 * whose chunks are gone, and so stores again what its source still holds. Corrupt tree
 * nodes and data blobs found truncated or corrupt are deleted whatever was examined:
 * nothing can read them, and while they are there a backup takes them for stored. Before
 * deleting, and whenever data is found missing, a new prune epoch is published: every
 * machine's blob inventory then forgets what it knew. The deletions follow prune's
 * sweep: the lock's `sweeping` flag first, then none while a backup holds a lock or
 * after one committed a snapshot since the start (it may reuse what would be deleted);
 * a later run does them.
 *
 * Every snapshot is walked before any record is written; a walk that wrote again a
 * tree node it had found lost (a repaired directory equals it) is followed by another,
 * since what it found is out of date.
 *
 * What is stored is learnt from one listing of `data/` (an ExternalSortSet: memory does
 * not grow with the repository); trees are read from the backend, not from caches, and
 * each subtree's outcome is remembered across snapshots by id, so shared subtrees are
 * walked once. Runs under an exclusive lock, as `rewrite` does.
 */
import { join } from 'node:path';
import { shareSignal } from '../core/abort.js';
import { CairnError, hasCode, UsageError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { forEachConcurrent } from '../core/limit.js';
import { decodeTree } from '../manifest/tree-codec.js';
import type { Snapshot } from '../manifest/types.js';
import { HEADER_BYTES } from '../repo/blob-format.js';
import { NONCE_BYTES, TAG_BYTES } from '../repo/crypto.js';
import { closeAll, DiskSet } from '../repo/disk-set.js';
import { ExternalSortSet } from '../repo/external-sort-set.js';
import { blobIdOfKey, blobKey, blobPrefix, snapshotKey } from '../repo/layout.js';
import { type Lock, writersInProgress } from '../repo/locks.js';
import { bumpPruneEpoch } from '../repo/prune-state.js';
import type { Repository } from '../repo/repository.js';
import {
  rewriting,
  type SnapshotFilter,
  type SnapshotRef,
  withoutRank,
} from '../repo/snapshots.js';
import { Throttle } from './events.js';
import { dropStaleInventory, withExclusiveLock } from './lock-guard.js';
import { type DirOutcome, type LostCounts, SecondReadStore, TreeRepairer } from './repair-trees.js';
import { isDamage, ReplacementPlacer } from './replacement.js';

export type { LostCounts } from './repair-trees.js';

/** Options for `repairSnapshots`. */
export interface RepairOptions {
  /** Snapshots by selector; none: every one `filter` matches. */
  snapshots?: string[];
  /** Without `snapshots`: which snapshots (all when empty); with them, what `latest` chooses from. */
  filter?: SnapshotFilter;
  /** Delete each repaired snapshot's old record once the new one is stored. */
  forget?: boolean;
  /** Find and count the damage; write and delete nothing. */
  dryRun?: boolean;
  /** Also read every referenced data blob and verify it (as `check --read-data`). */
  readData?: boolean;
  /** Report every damaged path in every snapshot, not only where first found (turns the memo off). */
  verbose?: boolean;
  onEvent?: (event: RepairEvent) => void;
  signal?: AbortSignal;
}

/** Progress and findings of a repair. */
export type RepairEvent =
  | {
      type: 'progress';
      operation: 'repair';
      /**
       * Listing `data/`, walking the snapshots' trees, then (every snapshot examined)
       * listing `tree/` to judge the nodes the walk did not meet.
       */
      phase: 'list' | 'walk' | 'unreached';
      blobs: number;
      snapshots: number;
      totalSnapshots: number;
      trees: number;
      elapsedMs: number;
    }
  /** Something removed from a snapshot (where first found, or everywhere with `verbose`). */
  | {
      type: 'damaged';
      snapshot: ObjectId;
      /** Snapshot path (`a/b`; `` for the root). */
      path: string;
      /** A file removed, or a directory listing lost in whole or part. */
      kind: 'file' | 'tree';
      message: string;
    }
  /**
   * The walk wrote again tree nodes it had found lost (a repaired directory equals
   * them): what it found is out of date, and walk `pass` starts afresh. Its `damaged`
   * events replace those of the walks before.
   */
  | { type: 'rewalk'; pass: number; writtenAgain: number }
  /** A snapshot record that cannot be read: `forget` it. */
  | { type: 'unreadable'; snapshot: ObjectId; message: string }
  | {
      type: 'repaired';
      from: ObjectId;
      /** The new record (undefined in a dry run). */
      id?: ObjectId;
      snapshot: Snapshot;
      lost: LostCounts;
      /** This repair was there already: nothing written. */
      existing?: boolean;
    };

/** What `repairSnapshots` did. */
export interface RepairReport {
  repaired: Array<{ from: ObjectId; id?: ObjectId; lost: LostCounts; existing?: boolean }>;
  /** Snapshots with nothing to repair. */
  intact: number;
  /** Chosen by filter and left alone: a later rewrite or repair of the same backup is there. */
  superseded: ObjectId[];
  /** Records that cannot be read (only `forget` helps). */
  unreadable: Array<{ id: ObjectId; message: string }>;
  /** Referenced data blobs missing from the repository. */
  missingBlobs: number;
  /** Data blobs present but damaged (truncated; with readData, failing verification). */
  damagedBlobs: number;
  /** Damaged data blobs deleted. */
  deletedBlobs: number;
  /**
   * Readable tree nodes that lead to damage: those the walk met, and when `complete`,
   * every other stored one (deleted when `complete`).
   */
  damagedTrees: number;
  /** Tree nodes that fail their hash or do not decode (deleted, unless the repair wrote them again). */
  corruptTrees: number;
  /** Tree nodes deleted: those that lead to damage, and corrupt ones. */
  deletedTrees: number;
  /** Of `deletedTrees`, the corrupt ones. */
  deletedCorruptTrees: number;
  /**
   * Lost tree nodes written again as they were (the node every empty directory shares):
   * nothing was lost by them, so no record changed for them.
   */
  restoredTrees: number;
  /**
   * Dry runs: tree nodes found lost that a run would write again (a repaired directory
   * equals them). Such a run walks the snapshots again once they are stored, and
   * repairs less than this dry run reports.
   */
  lostWrittenAgain?: number;
  /**
   * Why the deletions were left for a later run: backups were in progress, or committed
   * snapshots while the repair ran. Records were written and originals forgotten.
   */
  postponed?: string;
  /**
   * False when a selection (SNAPSHOT, filter) left snapshots out: the tree nodes that
   * lead to damage are then kept, since snapshots not examined may reference them.
   */
  complete: boolean;
  /** Data blobs read back with readData. */
  blobsRead: number;
  /** Old records deleted (`forget`). */
  forgotten: number;
  dryRun: boolean;
}

/** Repairs the selected snapshots of `repo` (see the module comment). */
export async function repairSnapshots(
  repo: Repository,
  options: RepairOptions = {},
): Promise<RepairReport> {
  const { signal } = options;
  const dryRun = options.dryRun ?? false;
  const { capabilities } = repo.backend;
  if (!capabilities.listable) {
    throw new UsageError(
      `${repo.backend.location} gives no listings (plain HTTP): repair the repository it is published from`,
    );
  }
  if (!dryRun && !capabilities.writable) {
    throw new UsageError(`${repo.backend.location} is read-only: repair writes new records`);
  }
  return withExclusiveLock(repo, 'repair', { dryRun, signal }, async (lock) => {
    if (lock) await dropStaleInventory(repo, signal);
    const report: RepairReport = {
      repaired: [],
      intact: 0,
      superseded: [],
      unreadable: [],
      missingBlobs: 0,
      damagedBlobs: 0,
      deletedBlobs: 0,
      damagedTrees: 0,
      corruptTrees: 0,
      deletedTrees: 0,
      deletedCorruptTrees: 0,
      restoredTrees: 0,
      complete: false,
      blobsRead: 0,
      forgotten: 0,
      dryRun,
    };
    const named = (options.snapshots ?? []).length > 0;
    report.complete = !named && isEmptyFilter(options.filter);
    const onUnreadable = (id: ObjectId, err: Error) => {
      if (report.unreadable.some((u) => u.id === id)) return;
      report.unreadable.push({ id, message: err.message });
      options.onEvent?.({ type: 'unreadable', snapshot: id, message: err.message });
    };
    // The records there before anything is read: one committed later (a backup beside
    // this run may have reused a node about to be deleted) postpones the deletions.
    const before = lock ? new Set(await repo.snapshots.ids(signal)) : undefined;
    const selected: SnapshotRef[] = named
      ? await selectNamed(repo, options.snapshots!, options.filter, signal, onUnreadable)
      : await repo.snapshots.list(options.filter ?? {}, signal, onUnreadable);
    const placer = await ReplacementPlacer.load(repo, { dryRun, lock, signal });
    const started = Date.now();
    const throttle = new Throttle();
    const progress = {
      phase: 'list' as 'list' | 'walk' | 'unreached',
      blobs: 0,
      snapshots: 0,
      trees: 0,
    };
    const emitProgress = (force = false) => {
      if (!force && !throttle.due()) return;
      options.onEvent?.({
        type: 'progress',
        operation: 'repair',
        ...progress,
        totalSnapshots: selected.length,
        elapsedMs: Date.now() - started,
      });
    };
    // Large sets spill next to the repository's cache, as check's do (not to /tmp).
    const setOptions = { dir: join(repo.cacheDir, 'tmp') };
    const stored = new ExternalSortSet(setOptions);
    const verdicts = new DiskSet(setOptions);
    let closeWalk: (() => Promise<void>) | undefined;
    try {
      const broken = await listStored(
        repo,
        stored,
        () => {
          progress.blobs++;
          emitProgress();
        },
        signal,
      );
      progress.phase = 'walk';
      emitProgress(true);
      // Every snapshot is walked before any record is written. Should a walk write
      // again a node it found lost (a repaired directory equals it), what it found is
      // out of date: the snapshots are walked again, afresh, until a walk writes none
      // (each such walk stores one more lost node again, and nothing is deleted, so
      // this ends). A dry run writes nothing: it says so and goes on.
      const walkOnce = () =>
        walkAll(repo, selected, options, { stored, broken, verdicts }, progress, emitProgress);
      let walk = await walkOnce();
      closeWalk = walk.close;
      let blobsRead = walk.repairer.blobsRead;
      // What any walk found restored or corrupt: a later walk finds it stored, sound.
      const restored = new Set(walk.repairer.restored);
      const corrupt = new Set(walk.repairer.corrupt);
      const writtenBefore = new Set<ObjectId>();
      for (let pass = 2; !dryRun; pass++) {
        const writtenAgain = walk.repairer.writtenAgain();
        if (writtenAgain.length === 0) break;
        // Written before and lost again: the write did not stick, and walking again
        // would only write it again.
        const stuck = writtenAgain.find((id) => writtenBefore.has(id));
        if (stuck !== undefined) throw notStored(repo, stuck);
        if (pass > MAX_WALKS) throw lostWrittenAgain(writtenAgain);
        for (const id of writtenAgain) writtenBefore.add(id);
        options.onEvent?.({ type: 'rewalk', pass, writtenAgain: writtenAgain.length });
        closeWalk = undefined;
        await walk.close();
        progress.snapshots = 0;
        progress.trees = 0;
        walk = await walkOnce();
        closeWalk = walk.close;
        blobsRead += walk.repairer.blobsRead;
        for (const id of walk.repairer.restored) restored.add(id);
        for (const id of walk.repairer.corrupt) corrupt.add(id);
      }
      const { repairer, changed } = walk;
      report.intact = walk.intact;
      if (dryRun && repairer.writtenAgain().length > 0) {
        report.lostWrittenAgain = repairer.writtenAgain().length;
      }
      for (const { id, snapshot, outcome } of changed) {
        // The root's own listing lost: all its files with it, as the record counted them
        // (a copy: the outcome is remembered for other snapshots of this root).
        const lost = outcome.emptied
          ? {
              ...outcome.lost,
              files: outcome.lost.files + snapshot.summary.files,
              bytes: outcome.lost.bytes + snapshot.summary.bytes,
            }
          : outcome.lost;
        const placed = await placer.place({
          id,
          snapshot,
          tree: outcome.tree,
          // Superseded originals stay alone even when named: see the module comment.
          named: false,
          build: (sameTime) => repairedRecord(id, snapshot, outcome, sameTime),
        });
        if (placed.kind === 'superseded') {
          report.superseded.push(id);
          continue;
        }
        const existing = placed.kind === 'existing';
        const entry = {
          from: id,
          ...(placed.id ? { id: placed.id } : {}),
          lost,
          ...(existing ? { existing } : {}),
        };
        report.repaired.push(entry);
        options.onEvent?.({ type: 'repaired', ...entry, snapshot: placed.snapshot });
      }
      if (report.complete) {
        // The stored nodes the walk did not meet: judged on their own.
        progress.phase = 'unreached';
        emitProgress(true);
        for await (const info of repo.backend.list(blobPrefix('tree'), { signal })) {
          const tree = blobIdOfKey('tree', info.key);
          if (!tree) continue;
          await repairer.judgeUnreached(tree);
          progress.trees++;
          emitProgress();
        }
      }
      emitProgress(true);
      report.missingBlobs = repairer.missing;
      report.damagedBlobs = broken.size;
      report.blobsRead = blobsRead;
      report.damagedTrees = repairer.taintedCount;
      report.corruptTrees = corrupt.size;
      report.restoredTrees = restored.size;
      if (dryRun) return report;
      if (options.forget) {
        // Every new record is stored by now: only then does an original go. Before the
        // deletions below, so a run stopped among them leaves no damaged original that
        // needs them.
        await lock?.confirm(signal);
        shareSignal(signal);
        await forEachConcurrent(report.repaired, 16, async (r) => {
          await repo.backend.delete(snapshotKey(r.from), { ...(signal ? { signal } : {}) });
          report.forgotten++;
        });
      }
      const tainted = report.complete ? repairer.taintedParentsFirst() : [];
      if (
        repairer.missing > 0 ||
        broken.size > 0 ||
        tainted.length > 0 ||
        repairer.corrupt.size > 0
      ) {
        // Inventories (this machine's and, through the epoch, every other's) may list
        // what is gone or is about to be.
        const call = signal ? { signal } : {};
        await lock?.confirm(signal);
        await bumpPruneEpoch(repo.backend, call);
        await repo.inventory?.invalidate();
        // As prune sweeps: the flag first (a backup starting now waits for it to clear),
        // then no backup in progress and none committed since the start.
        await lock?.setSweeping(true);
        try {
          const written = new Set(report.repaired.flatMap((r) => (r.id ? [r.id] : [])));
          const blocked =
            lock && before ? await deletionBlocker(repo, lock, before, written, signal) : undefined;
          if (blocked) report.postponed = blocked;
          else await deleteDamage(repo, repairer, tainted, broken, report, signal);
        } finally {
          await lock?.setSweeping(false);
        }
      }
    } finally {
      try {
        await closeAll(stored, verdicts);
      } finally {
        await closeWalk?.();
      }
      // Also after a failure part way: readers that cannot list see what was done.
      if (!dryRun && report.repaired.length > 0) {
        await repo.snapshots.rebuildIndex(signal);
      }
    }
    return report;
  });
}

/**
 * Deletes what leads to damage: the damaged data blobs first (a run stopped after them
 * leaves nodes that reference missing blobs, which a rerun finds), then the nodes that
 * lead to damage, one at a time and parents first (a run stopped part way leaves no
 * stored node whose children were deleted before it), then the corrupt nodes.
 */
async function deleteDamage(
  repo: Repository,
  repairer: TreeRepairer,
  tainted: readonly ObjectId[],
  broken: ReadonlyMap<ObjectId, string>,
  report: RepairReport,
  signal: AbortSignal | undefined,
): Promise<void> {
  const call = signal ? { signal } : {};
  shareSignal(signal);
  await forEachConcurrent(broken.keys(), 16, async (blob) => {
    await repo.backend.delete(blobKey('data', blob), call);
    report.deletedBlobs++;
  });
  for (const tree of tainted) {
    await repo.backend.delete(blobKey('tree', tree), call);
    report.deletedTrees++;
  }
  // A corrupt node whose id a repaired directory has was written again, sound: it stays.
  const fresh = new SecondReadStore(repo.backend, { codec: repo.codec });
  for (const tree of repairer.corrupt) {
    if (await readsWell(fresh, tree, signal)) continue;
    await repo.backend.delete(blobKey('tree', tree), call);
    report.deletedTrees++;
    report.deletedCorruptTrees++;
  }
}

/**
 * Why the deletions must wait, or undefined when they may go on: a backup in progress
 * (its lock live) may be reusing a node about to be deleted, and one that committed
 * since `before` was listed may reference one.
 */
async function deletionBlocker(
  repo: Repository,
  lock: Lock,
  before: ReadonlySet<ObjectId>,
  written: ReadonlySet<ObjectId>,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const busy = await writersInProgress(repo.backend, lock.id, signal ? { signal } : {});
  if (busy) return `${busy}; run the repair again once they end`;
  const added = (await repo.snapshots.ids(signal)).filter(
    (id) => !before.has(id) && !written.has(id),
  );
  if (added.length > 0) {
    return `${added.length} snapshot(s) were committed while the repair ran (${added[0]!.slice(0, 8)}); run the repair again`;
  }
  return undefined;
}

/** Walks of every snapshot in one run, at most (see `repairSnapshots`). */
const MAX_WALKS = 100;

/** One walk of every selected snapshot: its repairer, the changed ones, and how many are intact. */
async function walkAll(
  repo: Repository,
  selected: readonly SnapshotRef[],
  options: RepairOptions,
  sets: { stored: ExternalSortSet; broken: Map<ObjectId, string>; verdicts: DiskSet },
  progress: { snapshots: number; trees: number },
  emitProgress: (force?: boolean) => void,
) {
  const setOptions = { dir: join(repo.cacheDir, 'tmp') };
  // What one walk learnt of tree nodes; what it learnt of data blobs holds for the next.
  const visited = new DiskSet(setOptions);
  const judged = new DiskSet(setOptions);
  const close = () => closeAll(visited, judged);
  try {
    const repairer = new TreeRepairer(repo, {
      ...sets,
      visited,
      judged,
      readData: options.readData ?? false,
      dryRun: options.dryRun ?? false,
      memo: !options.verbose,
      onTree: () => {
        progress.trees++;
        emitProgress();
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const changed: Array<{ id: ObjectId; snapshot: Snapshot; outcome: DirOutcome }> = [];
    let intact = 0;
    for (const { id, snapshot } of selected) {
      repairer.onDamaged = (path, kind, message) =>
        options.onEvent?.({ type: 'damaged', snapshot: id, path, kind, message });
      const outcome = await repairer.directory(snapshot.tree, '');
      progress.snapshots++;
      emitProgress();
      if (outcome.changed) changed.push({ id, snapshot, outcome });
      else intact++;
    }
    return { repairer, changed, intact, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The error that stops a run whose walks kept writing again tree nodes they had found lost. */
function lostWrittenAgain(ids: readonly ObjectId[]): CairnError {
  return new CairnError(
    'io',
    `after ${MAX_WALKS} walks the repair still wrote again tree nodes it had found lost (${ids[0]!.slice(0, 8)}…): nothing was recorded, forgotten or deleted; run the repair again`,
  );
}

/** The error that stops a run whose written tree node reads back lost. */
function notStored(repo: Repository, id: ObjectId): CairnError {
  return new CairnError(
    'io',
    `tree ${id} was written again by the repair and still reads back missing or corrupt from ${repo.backend.location}: nothing was recorded, forgotten or deleted; check that the repository takes writes`,
  );
}

/** True when `filter` chooses every snapshot. */
function isEmptyFilter(filter: SnapshotFilter | undefined): boolean {
  if (!filter) return true;
  return (
    (filter.tags ?? []).length === 0 &&
    filter.hostname === undefined &&
    filter.paths === undefined &&
    (filter.withPaths ?? []).length === 0
  );
}

/** The named snapshots, each once, in history order. */
async function selectNamed(
  repo: Repository,
  selectors: readonly string[],
  filter: SnapshotFilter | undefined,
  signal: AbortSignal | undefined,
  onUnreadable: (id: ObjectId, err: Error) => void,
): Promise<SnapshotRef[]> {
  const byId = new Map<ObjectId, SnapshotRef>();
  for (const s of selectors) {
    const ref = await repo.snapshots.resolve(s, filter ?? {}, signal, onUnreadable);
    byId.set(ref.id, ref);
  }
  return [...byId.values()].sort((a, b) => (a.snapshot.time < b.snapshot.time ? -1 : 1));
}

/**
 * Lists `data/` into `stored`; returns the blobs too short to be any blob (truncated),
 * which are left out of `stored`, with why.
 */
async function listStored(
  repo: Repository,
  stored: ExternalSortSet,
  onBlob: () => void,
  signal: AbortSignal | undefined,
): Promise<Map<ObjectId, string>> {
  const shortest =
    HEADER_BYTES + 1 + (repo.config.encryption === 'none' ? 0 : NONCE_BYTES + TAG_BYTES);
  const broken = new Map<ObjectId, string>();
  for await (const info of repo.backend.list(blobPrefix('data'), signal ? { signal } : {})) {
    const id = blobIdOfKey('data', info.key);
    if (!id) continue; // under the wrong shard: not the blob readers look for
    onBlob();
    if (info.size >= shortest) {
      await stored.add(id);
      continue;
    }
    // A blob found short is deleted: its size is asked for again, so that a listing
    // that gives no size (an S3-compatible server may leave it out) deletes nothing.
    const size = await sizeNow(repo, info.key, signal);
    if (size === undefined) continue; // gone since the listing: missing
    if (size >= shortest) await stored.add(id);
    else
      broken.set(id, `data blob ${id} is ${size} bytes, shorter than any blob can be: truncated`);
  }
  return broken;
}

/** The size of object `key` now, or undefined when it is not there. */
async function sizeNow(
  repo: Repository,
  key: string,
  signal: AbortSignal | undefined,
): Promise<number | undefined> {
  try {
    return (await repo.backend.stat(key, signal ? { signal } : {})).size;
  } catch (err) {
    if (hasCode(err, 'not-found')) return undefined;
    throw err;
  }
}

/** The record replacing `snapshot` (`id`) once its tree is `outcome.tree`. */
function repairedRecord(
  id: ObjectId,
  snapshot: Snapshot,
  outcome: DirOutcome,
  sameTime: readonly Snapshot[],
): Snapshot {
  return {
    ...withoutRank(snapshot),
    tree: outcome.tree,
    summary: {
      ...snapshot.summary,
      files: outcome.files,
      bytes: outcome.bytes,
      dirs: 1 + outcome.dirs, // the root counts, as a backup counts it
    },
    ...rewriting(id, outcome.tree, sameTime),
  };
}

/**
 * True when tree node `id` reads, verifies and decodes now (read twice before it counts
 * as corrupt: the repair may have written it again, sound, for a new record).
 */
async function readsWell(
  blobs: SecondReadStore,
  id: ObjectId,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  try {
    decodeTree(await blobs.get('tree', id, signal ? { signal } : {}), `tree ${id}`);
    return true;
  } catch (err) {
    if (!isDamage(err)) throw err;
    return false;
  }
}
