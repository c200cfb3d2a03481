/**
 * Placing a record that replaces another with a new tree (`rewrite`, `repair
 * snapshots`): the new record keeps the original's time, ranks above every record of
 * that time (`rewrites`), and names the original (`original`). Before writing, it looks
 * for that replacement among the versions of the same backup run (a run stopped before
 * its `--forget` wrote it already), and, for records chosen by filter, for a later
 * replacement of the same run, which a new one would outrank.
 */
import { hasCode } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import type { Snapshot } from '../manifest/types.js';
import type { Lock } from '../repo/locks.js';
import type { Repository } from '../repo/repository.js';
import type { SnapshotRef } from '../repo/snapshots.js';

/** What `place` did with one replacement. */
export type Placement =
  /** Written before (perhaps tagged since): nothing written, `id` names it. */
  | { kind: 'existing'; id: ObjectId; snapshot: Snapshot }
  /** Chosen by filter, and a later replacement of the same run is there: left alone. */
  | { kind: 'superseded' }
  /** Written (`id` undefined in a dry run). */
  | { kind: 'written'; id?: ObjectId; snapshot: Snapshot };

/** One replacement to place. */
export interface Replacement {
  /** The record replaced, and its id. */
  id: ObjectId;
  snapshot: Snapshot;
  /** The new root tree. */
  tree: ObjectId;
  /** The new record, given the records of its time (for `rewriting`). */
  build: (sameTime: readonly Snapshot[]) => Snapshot;
  /** Named by the user (not chosen by filter): replaced even when superseded. */
  named: boolean;
}

/** Every record by its time, kept up to date as replacements are written. */
export class ReplacementPlacer {
  private readonly byTime = new Map<string, SnapshotRef[]>();

  private constructor(
    private readonly repo: Repository,
    private readonly options: { dryRun: boolean; lock?: Lock; signal?: AbortSignal },
  ) {}

  /** Reads every record (one that cannot be read cannot be ranked: passed over). */
  static async load(
    repo: Repository,
    options: { dryRun: boolean; lock?: Lock | undefined; signal?: AbortSignal | undefined },
  ): Promise<ReplacementPlacer> {
    const placer = new ReplacementPlacer(repo, {
      dryRun: options.dryRun,
      ...(options.lock ? { lock: options.lock } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    for (const r of await repo.snapshots.list({}, options.signal, () => {})) {
      placer.sameTime(r.snapshot.time).push(r);
    }
    return placer;
  }

  private sameTime(time: string): SnapshotRef[] {
    let refs = this.byTime.get(time);
    if (!refs) {
      refs = [];
      this.byTime.set(time, refs);
    }
    return refs;
  }

  /** Writes `r`'s record unless it is there already or superseded (see the module comment). */
  async place(r: Replacement): Promise<Placement> {
    const { snapshot } = r;
    const line = this.sameTime(snapshot.time).filter((x) => sameBackup(x.snapshot, snapshot));
    // This replacement, written before: same tree, and every tag of this record on it (a
    // --forget then loses nothing of what this record says).
    const existing = line.find(
      (x) =>
        x.id !== r.id &&
        x.snapshot.rewrites !== undefined &&
        x.snapshot.tree === r.tree &&
        snapshot.tags.every((t) => x.snapshot.tags.includes(t)),
    );
    if (existing) return { kind: 'existing', id: existing.id, snapshot: existing.snapshot };
    const rank = snapshot.rewrites ?? 0;
    if (!r.named && line.some((x) => (x.snapshot.rewrites ?? 0) > rank)) {
      return { kind: 'superseded' };
    }
    const next = r.build(this.sameTime(snapshot.time).map((x) => x.snapshot));
    let id: ObjectId | undefined;
    if (!this.options.dryRun) {
      // The new trees reference blobs only the lock kept from a prune: commit nothing
      // if it was lost meanwhile.
      await this.options.lock?.confirm(this.options.signal);
      id = await this.repo.snapshots.write(next, this.options.signal);
    }
    this.sameTime(snapshot.time).push({
      id: id ?? this.repo.snapshots.idOfRecord(next),
      snapshot: next,
    });
    return { kind: 'written', ...(id ? { id } : {}), snapshot: next };
  }
}

/**
 * True when `a` and `b` are versions of one backup run: equal in everything `tag`,
 * `rewrite` and `repair` keep (time, host, user, paths, parent, program, and the counts
 * of the run: new, changed and unchanged files, blobs and bytes added, errors,
 * duration). The records between two versions may be gone (tag deletes the record it
 * replaces), so `original` links cannot tell; two runs alike in all of these (same time,
 * same parent, same duration to the millisecond...) are not told apart, and are not
 * met in practice.
 */
export function sameBackup(a: Snapshot, b: Snapshot): boolean {
  const x = a.summary;
  const y = b.summary;
  const alike =
    a.time === b.time &&
    a.hostname === b.hostname &&
    a.username === b.username &&
    a.parent === b.parent &&
    a.program === b.program &&
    x.filesNew === y.filesNew &&
    x.filesChanged === y.filesChanged &&
    x.filesUnchanged === y.filesUnchanged &&
    x.blobsAdded === y.blobsAdded &&
    x.bytesAdded === y.bytesAdded &&
    x.errors === y.errors &&
    x.durationMs === y.durationMs &&
    a.paths.length === b.paths.length;
  if (!alike) return false;
  const p = [...a.paths].sort();
  const q = [...b.paths].sort();
  return p.every((v, i) => v === q[i]);
}

/** Errors that say an object of the repository cannot be read, not that the run must stop. */
export function isDamage(err: unknown): boolean {
  return hasCode(err, 'format') || hasCode(err, 'integrity') || hasCode(err, 'not-found');
}
