/**
 * `repair snapshots`: makes snapshots that reference lost or damaged objects whole
 * again, by leaving out what cannot be restored. The last step after data loss, once
 * backups run again (with `--force`) have stored again what the sources still hold.
 *
 * - A file with a chunk that is missing from `data/`, too short to be a blob, or (with
 *   `readData`) fails its hash or does not decode, is removed from the snapshot.
 * - A directory whose tree node cannot be read (missing, damaged, or not fitting its
 *   index) keeps its entry, empty; a page of a large directory that cannot be read
 *   takes only its own entries with it (TreeReader.salvage).
 * Each snapshot with damage gets a new record, placed as `rewrite` places its own
 * (replacement.ts: same time, ranked above the original, `original` naming it, counts of
 * what is left); the original is kept unless `forget` is set. An original that a later
 * rewrite or repair of the same backup replaced is left alone, named or not: its repair
 * would outrank that one.
 *
 * Then the repository's promise is made true again: a stored tree node means that
 * everything below it is stored (backups reuse a directory's tree when its node is
 * there, sync skips a subtree the destination has). So, when every snapshot was
 * examined, the tree nodes that lead to damage are deleted, parents first, as prune
 * deletes (a later backup of those directories writes them again, reading each file
 * whose chunks are gone, and so stores again what its source still holds); and data
 * blobs found corrupt or truncated are deleted (nothing can read them, and while they
 * are there `backup --force` takes them for stored). Before deleting, and whenever data
 * is found missing, a new prune epoch is published: every machine's blob inventory
 * then forgets what it knew. Kept originals reference the deleted nodes: they are
 * damaged records, kept only to be forgotten.
 *
 * What is stored is learnt from one listing of `data/` (an ExternalSortSet: memory does
 * not grow with the repository); trees are read from the backend, not from caches, and
 * each subtree's outcome is remembered across snapshots by id, so shared subtrees are
 * walked once. Runs under an exclusive lock, as `rewrite` does.
 */
import { join } from 'node:path';
import { shareSignal, throwIfAborted } from '../core/abort.js';
import { CairnError, hasCode, UsageError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { forEachConcurrent } from '../core/limit.js';
import type { FileEntry, PageRef, Snapshot, TreeNode } from '../manifest/types.js';
import { HEADER_BYTES } from '../repo/blob-format.js';
import { BlobStore } from '../repo/blob-store.js';
import { NONCE_BYTES, TAG_BYTES } from '../repo/crypto.js';
import { closeAll, DiskSet } from '../repo/disk-set.js';
import { ExternalSortSet } from '../repo/external-sort-set.js';
import { blobIdOfKey, blobKey, blobPrefix, snapshotKey } from '../repo/layout.js';
import { LruMap } from '../repo/lru.js';
import { bumpPruneEpoch } from '../repo/prune-state.js';
import type { Repository } from '../repo/repository.js';
import {
  rewriting,
  type SnapshotFilter,
  type SnapshotRef,
  withoutRank,
} from '../repo/snapshots.js';
import { MAX_INDEX_DEPTH, TreeReader } from '../repo/tree-store.js';
import { Throttle } from './events.js';
import { dropStaleInventory, withExclusiveLock } from './lock-guard.js';
import { isDamage, ReplacementPlacer } from './replacement.js';

/** Subtrees whose outcome is remembered across snapshots. */
const MEMO_ENTRIES = 50_000;
/** Data blobs read at once with `readData`. */
const READ_CONCURRENCY = 8;

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

/** What a snapshot lost in its repair. */
export interface LostCounts {
  /** Regular files removed: damaged ones, and those below directories emptied (as their entries counted them). */
  files: number;
  /** Their bytes. */
  bytes: number;
  /** Tree nodes that could not be read: directories emptied, pages of directories. */
  trees: number;
  /** Entries of lost pages (as their index counted them). */
  entries: number;
}

/** Progress and findings of a repair. */
export type RepairEvent =
  | {
      type: 'progress';
      operation: 'repair';
      /** Listing `data/`, then walking the snapshots' trees. */
      phase: 'list' | 'walk';
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
  /** Tree nodes that lead to damage (deleted when every snapshot was examined). */
  damagedTrees: number;
  /** Those deleted. */
  deletedTrees: number;
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

/** The outcome for one directory: what is in it once repaired, and what it lost. */
interface DirOutcome {
  /** Its tree after the repair (the same id when nothing below it changed). */
  tree: ObjectId;
  changed: boolean;
  /** Regular files, bytes and directories below it, at any depth, after the repair. */
  files: number;
  bytes: number;
  dirs: number;
  lost: LostCounts;
  /** Its own node could not be read: it is empty now. */
  emptied: boolean;
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
      deletedTrees: 0,
      complete: false,
      blobsRead: 0,
      forgotten: 0,
      dryRun,
    };
    const named = (options.snapshots ?? []).length > 0;
    report.complete = !named && isEmptyFilter(options.filter);
    const selected: SnapshotRef[] = named
      ? await selectNamed(repo, options.snapshots!, options.filter, signal)
      : await repo.snapshots.list(options.filter ?? {}, signal, (id, err) => {
          report.unreadable.push({ id, message: err.message });
          options.onEvent?.({ type: 'unreadable', snapshot: id, message: err.message });
        });
    const placer = await ReplacementPlacer.load(repo, { dryRun, lock, signal });
    const started = Date.now();
    const throttle = new Throttle();
    const progress = { phase: 'list' as 'list' | 'walk', blobs: 0, snapshots: 0, trees: 0 };
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
    try {
      const broken = await listStored(repo, stored, () => {
        progress.blobs++;
        emitProgress();
      });
      progress.phase = 'walk';
      emitProgress(true);
      const repairer = new TreeRepairer(repo, {
        stored,
        broken,
        verdicts,
        readData: options.readData ?? false,
        dryRun,
        memo: !options.verbose,
        onTree: () => {
          progress.trees++;
          emitProgress();
        },
        ...(signal ? { signal } : {}),
      });
      for (const { id, snapshot } of selected) {
        repairer.onDamaged = (path, kind, message) =>
          options.onEvent?.({ type: 'damaged', snapshot: id, path, kind, message });
        const outcome = await repairer.directory(snapshot.tree, '');
        // The root's own listing lost: all its files with it, as the record counted them
        // (a copy: the outcome is remembered for other snapshots of this root).
        const lost = outcome.emptied
          ? {
              ...outcome.lost,
              files: outcome.lost.files + snapshot.summary.files,
              bytes: outcome.lost.bytes + snapshot.summary.bytes,
            }
          : outcome.lost;
        progress.snapshots++;
        emitProgress();
        if (!outcome.changed) {
          report.intact++;
          continue;
        }
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
      emitProgress(true);
      report.missingBlobs = repairer.missing;
      report.damagedBlobs = broken.size;
      report.blobsRead = repairer.blobsRead;
      const tainted = report.complete ? repairer.taintedParentsFirst() : [];
      report.damagedTrees = repairer.taintedCount;
      if (!dryRun && (repairer.missing > 0 || broken.size > 0 || tainted.length > 0)) {
        // Inventories (this machine's and, through the epoch, every other's) may list
        // what is gone or is about to be.
        const call = signal ? { signal } : {};
        await lock?.confirm(signal);
        await bumpPruneEpoch(repo.backend, call);
        await repo.inventory?.invalidate();
        // One at a time, parents first: a run stopped part way leaves no stored node
        // whose children were deleted before it.
        for (const tree of tainted) {
          await repo.backend.delete(blobKey('tree', tree), call);
          report.deletedTrees++;
        }
        shareSignal(signal);
        await forEachConcurrent(broken.keys(), 16, async (blob) => {
          await repo.backend.delete(blobKey('data', blob), call);
          report.deletedBlobs++;
        });
      }
      if (!dryRun && options.forget) {
        // Every new record is stored by now: only then does an original go.
        await forEachConcurrent(report.repaired, 16, async (r) => {
          await repo.backend.delete(snapshotKey(r.from), { ...(signal ? { signal } : {}) });
          report.forgotten++;
        });
      }
    } finally {
      await closeAll(stored, verdicts);
      // Also after a failure part way: readers that cannot list see what was done.
      if (!dryRun && report.repaired.length > 0) {
        await repo.snapshots.rebuildIndex(signal);
      }
    }
    return report;
  });
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
): Promise<SnapshotRef[]> {
  const byId = new Map<ObjectId, SnapshotRef>();
  for (const s of selectors) {
    const ref = await repo.snapshots.resolve(s, filter ?? {}, signal);
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
): Promise<Map<ObjectId, string>> {
  const shortest =
    HEADER_BYTES + 1 + (repo.config.encryption === 'none' ? 0 : NONCE_BYTES + TAG_BYTES);
  const broken = new Map<ObjectId, string>();
  for await (const info of repo.backend.list(blobPrefix('data'))) {
    const id = blobIdOfKey('data', info.key);
    if (!id) continue; // under the wrong shard: not the blob readers look for
    if (info.size < shortest) {
      broken.set(
        id,
        `data blob ${id} is ${info.size} bytes, shorter than any blob can be: truncated`,
      );
    } else await stored.add(id);
    onBlob();
  }
  return broken;
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

interface RepairerOptions {
  /** Data blobs stored (not counting `broken`). */
  stored: ExternalSortSet;
  /** Data blobs found damaged, with why; `readData` adds to it. */
  broken: Map<ObjectId, string>;
  /** Data blobs read with `readData`: 1 good, 0 damaged. */
  verdicts: DiskSet;
  readData: boolean;
  dryRun: boolean;
  memo: boolean;
  onTree: () => void;
  signal?: AbortSignal;
}

/** Writes directories again without what cannot be restored. */
class TreeRepairer {
  onDamaged: ((path: string, kind: 'file' | 'tree', message: string) => void) | undefined;
  /** Referenced data blobs found missing (each counted once). */
  missing = 0;
  blobsRead = 0;
  private readonly missingSeen = new Set<ObjectId>();
  /**
   * Readable tree nodes that lead to damage, children before parents (a directory's
   * nodes are found once its subdirectories' outcomes are known).
   */
  private readonly tainted = new Set<ObjectId>();
  private readonly memo: LruMap<ObjectId, DirOutcome> | undefined;
  private readonly reader: TreeReader;
  private readonly writeStore: BlobStore;
  private readonly readStore: BlobStore;

  constructor(
    private readonly repo: Repository,
    private readonly options: RepairerOptions,
  ) {
    // Fresh readers: what is damaged must be read from the backend, not from caches.
    this.readStore = new BlobStore(repo.backend, { codec: repo.codec });
    this.reader = TreeReader.forSingleWalk(this.readStore);
    this.writeStore = repo.blobStore({ dryRun: options.dryRun });
    this.memo = options.memo ? new LruMap(MEMO_ENTRIES) : undefined;
  }

  /** Directory `tree` at `path` (snapshot form, `` for the root), repaired. */
  async directory(tree: ObjectId, path: string): Promise<DirOutcome> {
    const known = this.memo?.get(tree);
    if (known) return known;
    const outcome = await this.repair(tree, path);
    this.memo?.set(tree, outcome);
    return outcome;
  }

  private async repair(tree: ObjectId, path: string): Promise<DirOutcome> {
    const { signal } = this.options;
    const lost: LostCounts = { files: 0, bytes: 0, trees: 0, entries: 0 };
    let emptied = false;
    const onLost = (node: ObjectId, entries: number | undefined, err: Error) => {
      lost.trees++;
      if (entries === undefined) emptied = true;
      else lost.entries += entries;
      const what = entries === undefined ? 'listing lost' : `${entries} entries lost`;
      this.onDamaged?.(path, 'tree', `${what}: ${describe(err, 'tree', node)}`);
    };
    // First pass: what goes, and the subdirectories that change.
    const removed = new Set<string>();
    const changedDirs = new Map<string, DirOutcome>();
    // What is left below it (the second pass writes the same).
    let dirs = 0;
    let files = 0;
    let bytes = 0;
    this.options.onTree();
    for await (const entry of this.reader.salvage(tree, onLost, signal)) {
      throwIfAborted(signal);
      const at = path === '' ? entry.name : `${path}/${entry.name}`;
      if (entry.kind === 'file') {
        const damage = await this.fileDamage(entry);
        if (damage === undefined) {
          files++;
          bytes += entry.size;
          continue;
        }
        removed.add(entry.name);
        lost.files++;
        lost.bytes += entry.size;
        this.onDamaged?.(at, 'file', damage);
      } else if (entry.kind === 'dir') {
        const sub = await this.directory(entry.tree, at);
        dirs += 1 + sub.dirs;
        files += sub.files;
        bytes += sub.bytes;
        if (!sub.changed) continue;
        changedDirs.set(entry.name, sub);
        addLost(lost, sub.lost);
        // An emptied directory's files were counted by its entry, not by its walk.
        if (sub.emptied) {
          lost.files += entry.files;
          lost.bytes += entry.bytes;
        }
      }
    }
    if (lost.trees === 0 && removed.size === 0 && changedDirs.size === 0) {
      return { tree, changed: false, files, bytes, dirs, lost, emptied: false };
    }
    await this.taint(tree, new Set([...removed, ...changedDirs.keys()]), undefined, 0);
    // Second pass: the directory without what goes (salvage again: the same entries).
    // A dry run's store writes nothing but gives the ids a run would write, so a
    // repair written before is found in a dry run too.
    const writer = this.repo.directoryWriter(this.writeStore);
    for await (const entry of this.reader.salvage(tree, () => {}, signal)) {
      if (removed.has(entry.name)) continue;
      const sub = entry.kind === 'dir' ? changedDirs.get(entry.name) : undefined;
      await writer.add(
        sub && entry.kind === 'dir'
          ? { ...entry, tree: sub.tree, files: sub.files, bytes: sub.bytes }
          : entry,
      );
    }
    const written = (await writer.finish()).tree;
    return { tree: written, changed: true, files, bytes, dirs, lost, emptied };
  }

  /** How many tree nodes lead to damage. */
  get taintedCount(): number {
    return this.tainted.size;
  }

  /** The tree nodes that lead to damage, each before every one it references. */
  taintedParentsFirst(): ObjectId[] {
    return [...this.tainted].reverse();
  }

  /**
   * Notes the nodes of directory node `id` that lead to damage: a page holding one of
   * `damaged` (names of entries removed, or of subdirectories that changed), an index
   * node above such a page or above a node that cannot be read or does not fit it.
   * True when `id` leads to damage or is lost itself. A node that does not fit its index
   * entry may be another directory's sound node: it is not noted, its index is.
   */
  private async taint(
    id: ObjectId,
    damaged: ReadonlySet<string>,
    expect: PageRef | undefined,
    depth: number,
  ): Promise<boolean> {
    let node: TreeNode;
    try {
      if (depth > MAX_INDEX_DEPTH) return true;
      node = await this.reader.node(id, this.options.signal);
    } catch (err) {
      if (isDamage(err)) return true;
      throw err;
    }
    const fits =
      expect === undefined ||
      (node.kind === 'leaf'
        ? node.entries.length === expect.count && node.entries[0]?.name === expect.first
        : node.pages[0]?.first === expect.first &&
          node.pages.reduce((n, p) => n + p.count, 0) === expect.count);
    if (!fits) return true;
    let leads = false;
    if (node.kind === 'leaf') leads = node.entries.some((e) => damaged.has(e.name));
    else {
      for (const page of node.pages) {
        if (await this.taint(page.tree, damaged, page, depth + 1)) leads = true;
      }
    }
    if (leads) this.tainted.add(id);
    return leads;
  }

  /** Why `entry` cannot be restored, or undefined when every chunk of it is there (and sound). */
  private async fileDamage(entry: FileEntry): Promise<string | undefined> {
    const { stored, broken, verdicts, readData, signal } = this.options;
    let damage: string | undefined;
    for (const { id } of entry.chunks) {
      const why = broken.get(id);
      if (why !== undefined) {
        damage ??= why;
        continue;
      }
      if (!(await stored.has(id))) {
        if (!this.missingSeen.has(id)) {
          this.missingSeen.add(id);
          this.missing++;
        }
        damage ??= `data blob ${id} is missing`;
      }
    }
    if (damage !== undefined || !readData) return damage;
    const unread: ObjectId[] = [];
    for (const { id } of entry.chunks) {
      const verdict = await verdicts.get(id);
      if (verdict === 0) return broken.get(id);
      if (verdict === undefined && !unread.includes(id)) unread.push(id);
    }
    await forEachConcurrent(unread, READ_CONCURRENCY, async (id) => {
      try {
        await this.readStore.get('data', id, { ...(signal ? { signal } : {}) });
        this.blobsRead++;
        await verdicts.add(id, 1);
      } catch (err) {
        if (!(err instanceof CairnError) || err.code === 'aborted' || err.code === 'backend') {
          throw err;
        }
        this.blobsRead++;
        broken.set(id, describe(err, 'data blob', id));
        await verdicts.add(id, 0);
      }
    });
    for (const { id } of entry.chunks) {
      const why = broken.get(id);
      if (why !== undefined) return why;
    }
    return undefined;
  }
}

/** Why the object `kind id` cannot be read, naming it. */
function describe(err: Error, kind: string, id: ObjectId): string {
  if (hasCode(err, 'not-found')) return `${kind} ${id} is missing`;
  return err.message.includes(id) ? err.message : `${kind} ${id}: ${err.message}`;
}

function addLost(into: LostCounts, more: LostCounts): void {
  into.files += more.files;
  into.bytes += more.bytes;
  into.trees += more.trees;
  into.entries += more.entries;
}
