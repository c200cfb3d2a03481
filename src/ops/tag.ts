/**
 * `tag`: changes the tags of existing snapshots. A record's id is the hash of its
 * content, so a record with other tags is a new record: it is written (with `original`
 * naming the record it replaces), then the old one is deleted, then the snapshot
 * index is rebuilt once. Interrupted between the two, both records are there; running
 * the same command again writes nothing new (the same content has the same id) and
 * deletes the old one. Runs under an exclusive lock, as forget does, so two changes of
 * one record never race (each would keep its own copy).
 */
import { hasCode, UsageError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { forEachConcurrent } from '../core/limit.js';
import { checkTags, refuseField } from '../manifest/snapshot-fields.js';
import type { Snapshot } from '../manifest/types.js';
import { snapshotKey } from '../repo/layout.js';
import type { Repository } from '../repo/repository.js';
import {
  orderSnapshots,
  retagging,
  type SnapshotFilter,
  type SnapshotRef,
  withoutRank,
} from '../repo/snapshots.js';
import { withExclusiveLock } from './lock-guard.js';

/** How to change the tags: `set` replaces them all; `add` and `remove` edit them. */
export interface TagChange {
  /** The tags the snapshots get, instead of theirs (`[]`: no tags at all). */
  set?: string[];
  add?: string[];
  remove?: string[];
}

/** Options for `tagSnapshots`. */
export interface TagOptions extends TagChange {
  /**
   * Snapshots to change by selector (id, id prefix, `latest`, `tag:NAME`). Without any,
   * every snapshot matching `filter` is changed.
   */
  snapshots?: string[];
  /**
   * Without `snapshots`: which snapshots to change (all when empty); with them, what
   * `latest` and `tag:NAME` choose from.
   */
  filter?: SnapshotFilter;
  /** Decide and report; write and delete nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** One snapshot whose tags changed (would change, in a dry run). */
export interface TagChanged {
  /** The record replaced (deleted, unless a dry run). */
  from: ObjectId;
  /** The record written in its place (its id, in a dry run, had it been written). */
  id: ObjectId;
  snapshot: Snapshot;
}

/** What `tagSnapshots` did. */
export interface TagReport {
  changed: TagChanged[];
  /** Snapshots selected whose tags were already as asked. */
  unchanged: number;
  /**
   * Records deleted (would be, in a dry run) because a selected record replaced them
   * with other tags: what a `tag` stopped before its deletes had left.
   */
  leftovers: ObjectId[];
  dryRun: boolean;
}

/**
 * Refuses a change that says nothing, or `set` with `add`/`remove`, and tags a record
 * could not hold, before anything is read.
 */
export function checkTagChange(change: TagChange): void {
  const { set, add = [], remove = [] } = change;
  if (set !== undefined && (add.length > 0 || remove.length > 0)) {
    throw new UsageError('set replaces every tag: not with add or remove');
  }
  if (set === undefined && add.length === 0 && remove.length === 0) {
    throw new UsageError('tag needs tags to set, add or remove');
  }
  checkTags([...(set ?? []), ...add], refuseField);
}

/** The tags `snapshot` gets from `change`: sorted and unique, as records hold them. */
export function changedTags(tags: readonly string[], change: TagChange): string[] {
  const next = new Set(change.set ?? tags);
  for (const t of change.add ?? []) next.add(t);
  for (const t of change.remove ?? []) next.delete(t);
  return [...next].sort();
}

/** Changes the tags of the selected snapshots of `repo`. */
export async function tagSnapshots(repo: Repository, options: TagOptions): Promise<TagReport> {
  checkTagChange(options);
  const { signal } = options;
  const dryRun = options.dryRun ?? false;
  return withExclusiveLock(repo, 'tag', { dryRun, signal }, async (lock) => {
    const selected = await selectSnapshots(repo, options.snapshots ?? [], options.filter, signal);
    const report: TagReport = { changed: [], unchanged: 0, leftovers: [], dryRun };
    const doomed = new Set<ObjectId>();
    try {
      for (const { id, snapshot } of selected) {
        const tags = changedTags(snapshot.tags, options);
        if (sameTags(tags, snapshot.tags)) {
          report.unchanged++;
          const leftover = await replacedByTags(repo, id, snapshot, signal);
          if (leftover) {
            report.leftovers.push(leftover);
            doomed.add(leftover);
          }
          continue;
        }
        const next: Snapshot = { ...withoutRank(snapshot), tags, ...retagging(id, snapshot) };
        let nextId: ObjectId;
        if (dryRun) nextId = repo.snapshots.idOfRecord(next);
        else {
          // Committed only under a lock still held: a sweep may have run otherwise.
          await lock?.confirm(signal);
          nextId = await repo.snapshots.write(next, signal);
        }
        report.changed.push({ from: id, id: nextId, snapshot: next });
        doomed.add(id);
      }
      if (dryRun) return report;
      // Every new record is stored before any old one goes: an interruption leaves both.
      await forEachConcurrent([...doomed], 16, async (id) => {
        await repo.backend.delete(snapshotKey(id), { signal });
      });
    } finally {
      // Also after a failure part way: readers that cannot list see what was done.
      if (!dryRun && doomed.size > 0) await repo.snapshots.rebuildIndex(signal);
    }
    return report;
  });
}

/**
 * The record `snapshot` (`id`) replaced, when it is still there and differs only in its
 * tags: the leftover of a `tag` stopped between writing this record and deleting that
 * one. (A record `rewrite` kept has another tree, and is never taken for one.)
 */
async function replacedByTags(
  repo: Repository,
  id: ObjectId,
  snapshot: Snapshot,
  signal?: AbortSignal,
): Promise<ObjectId | undefined> {
  const replaced = snapshot.original;
  if (replaced === undefined) return undefined;
  let old: Snapshot;
  try {
    old = await repo.snapshots.load(replaced, signal);
  } catch (err) {
    if (hasCode(err, 'not-found')) return undefined;
    throw err;
  }
  const retagged = { ...withoutRank(old), tags: snapshot.tags, ...retagging(replaced, old) };
  return repo.snapshots.idOfRecord(retagged) === id ? replaced : undefined;
}

/**
 * The snapshots `selectors` name (each once, oldest first), or without selectors every
 * snapshot matching `filter`. With selectors the filter narrows what `latest` and
 * `tag:NAME` choose from; an id names its snapshot whatever the filter says. Records
 * that cannot be read are not passed over: a change must not quietly skip one, nor take
 * an older snapshot for `latest`.
 */
export async function selectSnapshots(
  repo: Repository,
  selectors: readonly string[],
  filter: SnapshotFilter = {},
  signal?: AbortSignal,
): Promise<SnapshotRef[]> {
  if (selectors.length === 0) return repo.snapshots.list(filter, signal);
  const byId = new Map<ObjectId, SnapshotRef>();
  for (const s of selectors) {
    const ref = await repo.snapshots.resolve(s, filter, signal);
    byId.set(ref.id, ref);
  }
  return orderSnapshots([...byId.values()]);
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
