/** `cairn forget --keep-...`: remove snapshots by retention policy; `--prune` to reclaim space. */
import { UsageError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import { forget } from '../../ops/forget.js';
import {
  type Duration,
  type GroupField,
  isZeroDuration,
  parseDuration,
  type RetentionPolicy,
} from '../../ops/retention.js';
import { type CommandContext, EXIT } from '../context.js';
import { table, visiblePath } from '../format.js';
import { type FilterOptions, hasFilter, snapshotFilter } from '../snapshot-filter-options.js';
import { parseGrace, printPrune, pruneEvent } from './prune.js';

/** Options of `cairn forget`. */
export interface ForgetCliOptions extends FilterOptions {
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepWithin?: string;
  keepTag?: string[];
  groupBy?: string;
  dryRun?: boolean;
  prune?: boolean;
  grace?: string;
}

export default async function forgetCommand(
  ctx: CommandContext,
  snapshots: string[],
  opts: ForgetCliOptions,
): Promise<number> {
  const policy = parsePolicy(opts);
  const groupBy = parseGroupBy(opts.groupBy ?? 'host,paths');
  if (opts.grace !== undefined && !opts.prune) {
    throw new UsageError('--grace is the grace period of the prune --prune runs: add --prune');
  }
  const graceMs = opts.grace !== undefined ? parseGrace(opts.grace) : undefined;
  const filter = snapshotFilter(opts);
  if (snapshots.length > 0 && (hasFilter(opts) || opts.groupBy)) {
    throw new UsageError(
      '--tag, --host, --path and --group-by select for a policy: not with snapshot ids',
    );
  }
  return ctx.withRepo(async (repo) => {
    const report = await forget(repo, {
      policy,
      snapshots,
      groupBy,
      filter,
      dryRun: opts.dryRun ?? false,
      ...(opts.prune
        ? { prune: { ...(graceMs !== undefined ? { graceMs } : {}), onEvent: pruneEvent(ctx) } }
        : {}),
      signal: ctx.signal,
    });
    for (const g of report.groups) {
      for (const d of g.decisions) {
        ctx.out.event({
          type: 'snapshot',
          id: d.id,
          time: d.snapshot.time,
          hostname: d.snapshot.hostname,
          paths: d.snapshot.paths,
          tags: d.snapshot.tags,
          keep: d.keep,
          reasons: d.reasons,
        });
      }
      if (!ctx.out.json) {
        const key = [
          g.key.host !== undefined ? `host ${visiblePath(g.key.host)}` : '',
          g.key.paths ? `paths ${g.key.paths.map(visiblePath).join(' ')}` : '',
          g.key.tags ? `tags [${g.key.tags.join(',')}]` : '',
        ]
          .filter((s) => s !== '')
          .join(', ');
        ctx.out.result(`snapshots of ${key || 'all hosts and paths'}:`);
        // In UTC, as the calendar rules judge them: in local time a "daily snapshot"
        // kept over a later one of the same local day looked like a wrong decision.
        const rows = [['ID', 'Time (UTC)', 'Tags', 'Action', 'Reasons']];
        for (const d of g.decisions) {
          rows.push([
            shortId(d.id),
            utcTime(d.snapshot.time),
            d.snapshot.tags.join(','),
            d.keep ? 'keep' : 'remove',
            d.reasons.join(', '),
          ]);
        }
        ctx.out.result(table(rows));
      }
    }
    if (snapshots.length > 0) {
      for (const id of report.removed) {
        ctx.out.event({ type: 'snapshot', id, keep: false, reasons: ['named'] });
        ctx.out.line(`${report.dryRun ? 'would remove' : 'removed'} snapshot ${shortId(id)}`);
      }
    }
    ctx.out.event({
      type: 'summary',
      operation: 'forget',
      kept: report.kept,
      removed: report.removed,
      dryRun: report.dryRun,
    });
    ctx.out.result(
      `${report.dryRun ? 'would keep' : 'kept'} ${report.kept}, ${report.dryRun ? 'would remove' : 'removed'} ${report.removed.length} snapshot(s)`,
    );
    if (report.prune) printPrune(ctx, report.prune);
    else if (report.dryRun && opts.prune) {
      // A prune's dry run here would count blobs as if nothing were removed.
      ctx.out.line(
        'would then prune; what that frees is known only once the snapshots are removed (cairn prune --dry-run then)',
      );
    }
    return EXIT.ok;
  });
}

/**
 * A `--keep-*` count. 0 is refused rather than ignored: `--keep-last 0` alone would
 * otherwise pass the empty-policy guard and remove every snapshot.
 */
function count(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new UsageError(
      `${option} ${JSON.stringify(value)}: counts are whole numbers starting at 1 (0 would keep nothing: leave the option out instead)`,
    );
  }
  return Number(value);
}

/** `--keep-within`: a zero duration is refused like a zero count. */
function within(text: string): Duration {
  const d = parseDuration(text);
  if (isZeroDuration(d)) {
    throw new UsageError(
      `--keep-within ${JSON.stringify(text)} is zero: give a longer duration (e.g. 1d), or --keep-last 1 to keep only the newest`,
    );
  }
  return d;
}

function parsePolicy(o: ForgetCliOptions): RetentionPolicy {
  const p: RetentionPolicy = {};
  const set = (k: 'last' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly', v?: string) => {
    const n = count(v, `--keep-${k}`);
    if (n !== undefined) p[k] = n;
  };
  set('last', o.keepLast);
  set('hourly', o.keepHourly);
  set('daily', o.keepDaily);
  set('weekly', o.keepWeekly);
  set('monthly', o.keepMonthly);
  set('yearly', o.keepYearly);
  if (o.keepWithin !== undefined) p.within = within(o.keepWithin);
  if (o.keepTag) {
    p.tags = o.keepTag.map((t) => {
      const tags = t.split(',').filter((s) => s !== '');
      // No tag at all would match (and keep) every snapshot.
      if (tags.length === 0) throw new UsageError(`--keep-tag ${JSON.stringify(t)} names no tag`);
      return tags;
    });
  }
  return p;
}

function parseGroupBy(text: string): GroupField[] {
  const fields = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const f of fields) {
    if (f !== 'host' && f !== 'paths' && f !== 'tags') {
      throw new UsageError(`--group-by: unknown field ${JSON.stringify(f)}: use host, paths, tags`);
    }
  }
  return fields as GroupField[];
}

/** An ISO time as UTC "YYYY-MM-DD HH:MM:SS". */
function utcTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 19).replace('T', ' ');
}
