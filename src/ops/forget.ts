/**
 * `forget`: removes snapshot records according to a retention policy (retention.ts),
 * then rebuilds the snapshot index. Blobs are left for `prune`, which `prune: {...}` runs
 * afterwards under the same exclusive lock.
 */
import { UsageError } from '../core/errors.js';
import { forEachConcurrent } from '../core/limit.js';
import { snapshotKey } from '../repo/layout.js';
import { Lock } from '../repo/locks.js';
import type { Repository } from '../repo/repository.js';
import type { SnapshotFilter } from '../repo/snapshots.js';
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
  policy: RetentionPolicy;
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
  // Checked before locking and listing: a policy keeping nothing would remove everything.
  checkPolicy(options.policy);
  if (isEmptyPolicy(options.policy)) {
    throw new UsageError(
      'forget needs a policy that keeps something (--keep-last N, --keep-daily N, --keep-within, --keep-tag...; counts start at 1): it would remove every snapshot',
    );
  }
  const dryRun = options.dryRun ?? false;
  const lock = dryRun
    ? undefined
    : await Lock.acquire(repo.backend, {
        exclusive: true,
        operation: 'forget',
        ...(signal ? { signal } : {}),
      });
  try {
    const snapshots = await repo.snapshots.list(options.filter ?? {}, signal);
    const groups = applyRetention(snapshots, options.policy, options.groupBy);
    const removed: string[] = [];
    let kept = 0;
    for (const g of groups) {
      for (const d of g.decisions) {
        if (d.keep) kept++;
        else removed.push(d.id);
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
  } finally {
    await lock?.release();
  }
}
