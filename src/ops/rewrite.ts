/**
 * `rewrite`: removes what exclude patterns match from existing snapshots (a secret
 * backed up by mistake, a cache that should never have been). Each snapshot with a
 * match gets a new record: the same time, host, paths, tags and parent, a new root
 * tree, `original` naming the record it came from, and counts (files, dirs, bytes) for
 * what is left. The old record is kept unless `forget` is set, as restic does; its blobs
 * go with the next prune once no record references them.
 *
 * Only directories holding a match are written again (bottom-up, children before
 * parents, as a backup writes them); every other subtree keeps its id. A directory's
 * listing is read twice: once to learn whether anything below it changes (and to write
 * the subdirectories that do), once to write it. Snapshots share most of their trees,
 * so with patterns that match names only (whose result depends on a subtree's content,
 * not where it is) the outcome for each subtree is remembered across snapshots by id.
 *
 * Patterns are exclude globs matched against paths inside the snapshot, as `find`
 * matches them (`/a/b` for the snapshot's `a/b`). Runs under an exclusive lock, so no
 * prune sweeps while the new trees reference blobs that only the old records held.
 */
import { throwIfAborted } from '../core/abort.js';
import { UsageError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { forEachConcurrent } from '../core/limit.js';
import type { Entry, Snapshot } from '../manifest/types.js';
import type { BlobStore } from '../repo/blob-store.js';
import { snapshotKey } from '../repo/layout.js';
import { LruMap } from '../repo/lru.js';
import type { Repository } from '../repo/repository.js';
import { rewriting, type SnapshotFilter, withoutRank } from '../repo/snapshots.js';
import { ExcludeMatcher } from './exclude.js';
import { dropStaleInventory, withExclusiveLock } from './lock-guard.js';
import { isDamage, ReplacementPlacer } from './replacement.js';
import { selectSnapshots } from './tag.js';

/** Subtrees whose outcome is remembered across snapshots (ids and counts, ~300 bytes each). */
const MEMO_ENTRIES = 50_000;

/** Options for `rewrite`. */
export interface RewriteOptions {
  /** Exclude globs (exclude.ts): what they match is removed. */
  exclude: string[];
  /** Snapshots by selector (id, id prefix, `latest`, `tag:NAME`); none: every one `filter` matches. */
  snapshots?: string[];
  /**
   * Without `snapshots`: which snapshots to rewrite (all when empty); with them, what
   * `latest` and `tag:NAME` choose from.
   */
  filter?: SnapshotFilter;
  /** Delete each rewritten snapshot's old record once the new one is stored. */
  forget?: boolean;
  /** Find and count what would be removed; write and delete nothing. */
  dryRun?: boolean;
  /** Report every removed path (`onEvent`), in every snapshot: turns the memo off. */
  verbose?: boolean;
  onEvent?: (event: RewriteEvent) => void;
  signal?: AbortSignal;
}

/** What was removed from one snapshot (or a subtree). */
export interface RemovedCounts {
  /** Regular files, including those inside removed directories. */
  files: number;
  /** Directories, including those inside removed directories. */
  dirs: number;
  /** Other entries removed by a pattern: links, FIFOs, sockets, devices. */
  others: number;
  /** Bytes of the removed regular files. */
  bytes: number;
}

/** Progress of a rewrite. */
export type RewriteEvent =
  | { type: 'excluded'; snapshot: ObjectId; path: string; kind: Entry['kind'] }
  /** A snapshot not rewritten because one of its trees cannot be read. */
  | { type: 'failed'; snapshot: ObjectId; message: string }
  | {
      type: 'rewritten';
      /** The record rewritten. */
      from: ObjectId;
      /** The new record (undefined in a dry run). */
      id?: ObjectId;
      snapshot: Snapshot;
      removed: RemovedCounts;
      /** This rewrite was there already (`id`, perhaps tagged since): nothing was written. */
      existing?: boolean;
    };

/** What `rewrite` did. */
export interface RewriteReport {
  rewritten: Array<{ from: ObjectId; id?: ObjectId; removed: RemovedCounts; existing?: boolean }>;
  /** Snapshots holding nothing the patterns match. */
  unchanged: number;
  /**
   * Snapshots chosen by filter (not named) and left alone: an older version of a backup
   * that an earlier rewrite replaced. Rewritten again they would outrank that rewrite.
   */
  superseded: ObjectId[];
  /** Snapshots left as they are because a tree of theirs cannot be read. */
  failed: Array<{ id: ObjectId; message: string }>;
  /** Old records deleted (`forget`). */
  forgotten: number;
  /** Patterns that matched nothing in any snapshot examined. */
  unmatched: string[];
  /**
   * The source path of each examined snapshot of one PATH, once each: its root is that
   * directory (for messages about patterns written as source paths).
   */
  sourcePaths: string[];
  dryRun: boolean;
}

/** Refuses options that would do nothing or cannot work, before anything is read. */
export function checkRewriteOptions(options: RewriteOptions): ExcludeMatcher {
  if (options.exclude.length === 0 || options.exclude.includes('')) {
    throw new UsageError('rewrite needs patterns of what to remove (--exclude, --exclude-file)');
  }
  return new ExcludeMatcher(options.exclude);
}

/** Removes what `options.exclude` matches from the selected snapshots of `repo`. */
export async function rewrite(repo: Repository, options: RewriteOptions): Promise<RewriteReport> {
  const matcher = checkRewriteOptions(options);
  const { signal } = options;
  const dryRun = options.dryRun ?? false;
  return withExclusiveLock(repo, 'rewrite', { dryRun, signal }, async (lock) => {
    // What this handle knows to be stored may predate a sweep: a fresh store, and an
    // inventory dropped if a prune published a new epoch, before anything is written.
    if (lock) await dropStaleInventory(repo, signal);
    const selected = await selectSnapshots(repo, options.snapshots ?? [], options.filter, signal);
    const placer = await ReplacementPlacer.load(repo, { dryRun, lock, signal });
    const named = (options.snapshots ?? []).length > 0;
    const rewriter = new TreeRewriter(repo, repo.blobStore({ dryRun }), matcher, {
      patterns: options.exclude,
      memo: !options.verbose && !matcher.matchesPaths,
      ...(signal ? { signal } : {}),
    });
    const report: RewriteReport = {
      rewritten: [],
      unchanged: 0,
      superseded: [],
      failed: [],
      forgotten: 0,
      unmatched: [],
      sourcePaths: [
        ...new Set(
          selected.flatMap((r) => (r.snapshot.paths.length === 1 ? r.snapshot.paths : [])),
        ),
      ],
      dryRun,
    };
    try {
      for (const { id, snapshot } of selected) {
        rewriter.onExcluded = options.verbose
          ? (path, entry) =>
              options.onEvent?.({ type: 'excluded', snapshot: id, path, kind: entry.kind })
          : undefined;
        let result: RewrittenDir | undefined;
        try {
          result = await rewriter.directory(snapshot.tree, '');
        } catch (err) {
          // A damaged tree spoils this snapshot only: the others still lose the secret.
          if (!isDamage(err)) throw err;
          const message = (err as Error).message;
          report.failed.push({ id, message });
          options.onEvent?.({ type: 'failed', snapshot: id, message });
          continue;
        }
        if (!result) {
          report.unchanged++;
          continue;
        }
        const { removed } = result;
        const placed = await placer.place({
          id,
          snapshot,
          tree: result.tree,
          named,
          build: (sameTime) => rewrittenRecord(id, snapshot, result, sameTime),
        });
        if (placed.kind === 'superseded') {
          report.superseded.push(id);
          continue;
        }
        const existing = placed.kind === 'existing';
        report.rewritten.push({
          from: id,
          ...(placed.id ? { id: placed.id } : {}),
          removed,
          ...(existing ? { existing } : {}),
        });
        options.onEvent?.({
          type: 'rewritten',
          from: id,
          ...(placed.id ? { id: placed.id } : {}),
          snapshot: placed.snapshot,
          removed,
          ...(existing ? { existing } : {}),
        });
      }
      report.unmatched = rewriter.unmatchedPatterns();
      if (!dryRun && options.forget) {
        // Every new record is stored by now: only then does an original go.
        await forEachConcurrent(report.rewritten, 16, async (r) => {
          await repo.backend.delete(snapshotKey(r.from), { signal });
          report.forgotten++;
        });
      }
    } finally {
      // Also after a failure part way: readers that cannot list see what was done.
      if (!dryRun && report.rewritten.length > 0) await repo.snapshots.rebuildIndex(signal);
    }
    return report;
  });
}

/** The record replacing `snapshot` (`id`) once its tree is `result`. */
function rewrittenRecord(
  id: ObjectId,
  snapshot: Snapshot,
  result: RewrittenDir,
  sameTime: readonly Snapshot[],
): Snapshot {
  return {
    ...withoutRank(snapshot),
    tree: result.tree,
    summary: {
      ...snapshot.summary,
      files: result.files,
      bytes: result.bytes,
      dirs: Math.max(0, snapshot.summary.dirs - result.removed.dirs),
    },
    ...rewriting(id, result.tree, sameTime),
  };
}

/** A directory written again: its new id and what is in it and was removed below it. */
interface RewrittenDir {
  tree: ObjectId;
  files: number;
  bytes: number;
  removed: RemovedCounts;
}

/** Rewrites directories without what the matcher excludes. */
class TreeRewriter {
  /** Told each removed entry's path (snapshot form, `a/b`), when set. */
  onExcluded: ((path: string, entry: Entry) => void) | undefined;
  /** Outcome by subtree id (`null`: nothing below it changes), for name-only patterns. */
  private readonly memo: LruMap<ObjectId, RewrittenDir | null> | undefined;
  /** What `countBelow` found, by subtree id (whatever the patterns, a fact of the tree). */
  private readonly belowCounts = new LruMap<ObjectId, { dirs: number; others: number }>(
    MEMO_ENTRIES,
  );
  private readonly signal: AbortSignal | undefined;

  /** Each pattern on its own, while it has matched nothing (see `unmatchedPatterns`). */
  private readonly unmatched: Map<string, ExcludeMatcher>;

  constructor(
    private readonly repo: Repository,
    private readonly blobs: BlobStore,
    private readonly matcher: ExcludeMatcher,
    options: { patterns: string[]; memo: boolean; signal?: AbortSignal },
  ) {
    this.signal = options.signal;
    this.memo = options.memo ? new LruMap(MEMO_ENTRIES) : undefined;
    this.unmatched = new Map(options.patterns.map((p) => [p, new ExcludeMatcher([p])]));
  }

  /** The patterns that matched no entry so far. */
  unmatchedPatterns(): string[] {
    return [...this.unmatched.keys()];
  }

  /** True when `entry` at `path` (snapshot form, `a/b`) is excluded; notes which patterns matched. */
  private excluded(path: string, entry: Entry): boolean {
    if (!this.matcher.excludes(`/${path}`, entry.name)) return false;
    for (const [pattern, one] of this.unmatched) {
      if (one.excludes(`/${path}`, entry.name)) this.unmatched.delete(pattern);
    }
    return true;
  }

  /**
   * Directory `tree` at `prefix` without the excluded entries, written (not in a dry
   * run: then `tree` is the old id); undefined when nothing below it is excluded.
   */
  async directory(tree: ObjectId, prefix: string): Promise<RewrittenDir | undefined> {
    const known = this.memo?.get(tree);
    if (known !== undefined) return known ?? undefined;
    const result = await this.rewrite(tree, prefix);
    this.memo?.set(tree, result ?? null);
    return result;
  }

  private async rewrite(tree: ObjectId, prefix: string): Promise<RewrittenDir | undefined> {
    const removed: RemovedCounts = { files: 0, dirs: 0, others: 0, bytes: 0 };
    // First pass: what goes, and the subdirectories that change (written here).
    const changedDirs = new Map<string, RewrittenDir>();
    let changed = false;
    for await (const entry of this.repo.trees.entries(tree, this.signal)) {
      throwIfAborted(this.signal);
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (this.excluded(path, entry)) {
        changed = true;
        this.onExcluded?.(path, entry);
        await this.countRemoved(entry, removed);
        continue;
      }
      if (entry.kind !== 'dir') continue;
      const sub = await this.directory(entry.tree, path);
      if (!sub) continue;
      changed = true;
      changedDirs.set(entry.name, sub);
      addCounts(removed, sub.removed);
    }
    if (!changed) return undefined;
    // Second pass: the directory without what goes.
    // A dry run's store writes nothing but gives the ids a run would write, so a
    // rewrite written before is found in a dry run too.
    const writer = this.repo.directoryWriter(this.blobs);
    let files = 0;
    let bytes = 0;
    for await (const entry of this.repo.trees.entries(tree, this.signal)) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (this.matcher.excludes(`/${path}`, entry.name)) continue;
      let kept = entry;
      if (entry.kind === 'dir') {
        const sub = changedDirs.get(entry.name);
        if (sub) kept = { ...entry, tree: sub.tree, files: sub.files, bytes: sub.bytes };
        files += kept.kind === 'dir' ? kept.files : 0;
        bytes += kept.kind === 'dir' ? kept.bytes : 0;
      } else if (entry.kind === 'file') {
        files++;
        bytes += entry.size;
      }
      await writer.add(kept);
    }
    const written = (await writer.finish()).tree;
    return { tree: written, files, bytes, removed };
  }

  /** Adds a removed entry (and for a directory, everything below it) to `removed`. */
  private async countRemoved(entry: Entry, removed: RemovedCounts): Promise<void> {
    if (entry.kind === 'file') {
      removed.files++;
      removed.bytes += entry.size;
    } else if (entry.kind === 'dir') {
      // Files and bytes are in the entry; directories and other entries need a walk.
      const below = await this.countBelow(entry.tree);
      removed.files += entry.files;
      removed.bytes += entry.bytes;
      removed.dirs += 1 + below.dirs;
      removed.others += below.others;
    } else removed.others++;
  }

  /** Directories and entries other than files and directories, at any depth below `tree`. */
  private async countBelow(tree: ObjectId): Promise<{ dirs: number; others: number }> {
    const known = this.belowCounts.get(tree);
    if (known !== undefined) return known;
    const counts = { dirs: 0, others: 0 };
    for await (const entry of this.repo.trees.entries(tree, this.signal)) {
      if (entry.kind === 'dir') {
        const below = await this.countBelow(entry.tree);
        counts.dirs += 1 + below.dirs;
        counts.others += below.others;
      } else if (entry.kind !== 'file') counts.others++;
    }
    this.belowCounts.set(tree, counts);
    return counts;
  }
}

function addCounts(into: RemovedCounts, more: RemovedCounts): void {
  into.files += more.files;
  into.dirs += more.dirs;
  into.others += more.others;
  into.bytes += more.bytes;
}
