/**
 * `forget`: removes snapshot records according to a retention policy (retention.ts), or
 * exactly the ones named, then rebuilds the snapshot index. Blobs are left for `prune`,
 * which `prune: {...}` runs afterwards under the same exclusive lock.
 */
import { UsageError } from '../core/errors.js';
import { forEachConcurrent } from '../core/limit.js';
import { snapshotKey } from '../repo/layout.js';
import type { Repository } from '../repo/repository.js';
import { idByPrefix, type SnapshotFilter } from '../repo/snapshots.js';
import { withExclusiveLock } from './lock-guard.js';
import { type PruneOptions, type PruneReport, prune } from './prune.js';
import {
  applyRetention,
  checkPolicy,
  type GroupField,
  isEmptyPolicy,
  type RetentionGroup,
  type RetentionPolicy,
} from './retention.js';

/** Options for `forget`. */
export interface ForgetOptions {
  /** Which snapshots to keep; the others (matching `filter`) are removed. */
  policy?: RetentionPolicy;
  /**
   * Instead of a policy: remove exactly these snapshots, by full id or id prefix (at
   * least 4 hex digits). Their records are not read, so this also removes one that
   * cannot be read (which a policy cannot judge, and so refuses to run past).
   */
  snapshots?: string[];
  /** Grouping (default host and paths). */
  groupBy?: GroupField[];
  /** Only consider snapshots matching this filter (others are kept untouched). */
  filter?: SnapshotFilter;
  /** Decide and report; remove nothing. */
  dryRun?: boolean;
  /** Run prune afterwards with these options (not in a dry run). */
  prune?: Omit<PruneOptions, 'lock' | 'dryRun' | 'signal'>;
  signal?: AbortSignal;
}

/** What `forget` decided and did. */
export interface ForgetReport {
  groups: RetentionGroup[];
  kept: number;
  /** Ids of removed snapshots (would be, in a dry run). */
  removed: string[];
  dryRun: boolean;
  prune?: PruneReport;
}

/** Applies `options.policy` to the snapshots of `repo`. */
export async function forget(repo: Repository, options: ForgetOptions): Promise<ForgetReport> {
  const { signal } = options;
  const named = options.snapshots ?? [];
  const policy = options.policy ?? {};
  // Checked before locking and listing: a policy keeping nothing would remove everything.
  checkPolicy(policy);
  if (named.length > 0 && !isEmptyPolicy(policy)) {
    throw new UsageError('forget takes snapshots to remove or a policy, not both');
  }
  if (named.length === 0 && isEmptyPolicy(policy)) {
    throw new UsageError(
      'forget needs a policy that keeps something (--keep-last N, --keep-daily N, --keep-within, --keep-tag...; counts start at 1), or the snapshots to remove: it would remove every snapshot',
    );
  }
  const dryRun = options.dryRun ?? false;
  return withExclusiveLock(repo, 'forget', { dryRun, signal }, async (lock) => {
    let groups: RetentionGroup[] = [];
    let removed: string[] = [];
    let kept = 0;
    if (named.length > 0) {
      const all = await repo.snapshots.ids(signal);
      removed = named.map((s) => idByPrefix(s, all)).filter((id, i, ids) => ids.indexOf(id) === i);
      kept = all.length - removed.length;
    } else {
      const snapshots = await repo.snapshots.list(options.filter ?? {}, signal);
      groups = applyRetention(snapshots, policy, options.groupBy);
      for (const g of groups) {
        for (const d of g.decisions) {
          if (d.keep) kept++;
          else removed.push(d.id);
        }
      }
      // Only tag rules can keep nothing (a count or a duration keeps each group's
      // newest): then no snapshot has the tags, most likely a misspelt tag.
      if (kept === 0 && removed.length > 0) {
        const tags = (policy.tags ?? []).map((t) => t.join(',')).join(' or ');
        throw new UsageError(
          `the policy keeps none of the ${removed.length} snapshot(s)${tags ? `: none has the tags ${tags}` : ''}; nothing was removed (to remove them all, name them: cairn forget ID...)`,
        );
      }
    }
    const report: ForgetReport = { groups, kept, removed, dryRun };
    if (dryRun) return report;
    await forEachConcurrent(removed, 16, async (id) => {
      await repo.backend.delete(snapshotKey(id), { signal });
    });
    if (removed.length > 0) await repo.snapshots.rebuildIndex(signal);
    if (options.prune) {
      report.prune = await prune(repo, {
        ...options.prune,
        ...(lock ? { lock } : {}),
        ...(signal ? { signal } : {}),
      });
    }
    return report;
  });
}
