/** `cairn rewrite [SNAPSHOT...] --exclude GLOB`: remove what matches from snapshots (ops/rewrite.ts). */
import { UsageError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import { type RemovedCounts, rewrite } from '../../ops/rewrite.js';
import { type CommandContext, EXIT } from '../context.js';
import { excludePatterns } from '../exclude-options.js';
import { count, formatBytes, visiblePath } from '../format.js';
import { printReplacement } from '../replacement-output.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';

interface RewriteCliOptions extends FilterOptions {
  exclude?: string[];
  excludeFile?: string[];
  forget?: boolean;
  dryRun?: boolean;
  verbose?: boolean;
}

export default async function rewriteCommand(
  ctx: CommandContext,
  snapshots: string[],
  opts: RewriteCliOptions,
): Promise<number> {
  const filter = snapshotFilter(opts);
  if (snapshots.includes('')) throw new UsageError('rewrite: the snapshot "" is empty');
  const exclude = await excludePatterns(opts);
  if (exclude.length === 0) {
    throw new UsageError('rewrite needs what to remove: --exclude GLOB or --exclude-file FILE');
  }
  const dryRun = opts.dryRun ?? false;
  const options = {
    exclude,
    snapshots,
    filter,
    forget: opts.forget ?? false,
    dryRun,
    verbose: opts.verbose ?? false,
    signal: ctx.signal,
  };
  return ctx.withRepo(async (repo) => {
    const report = await rewrite(repo, {
      ...options,
      onEvent: (e) => {
        if (e.type === 'excluded') {
          ctx.out.event(e);
          ctx.out.line(`  ${dryRun ? 'would remove' : 'removed'} ${visiblePath(e.path)}`);
          return;
        }
        if (e.type === 'failed') {
          const message = `snapshot ${shortId(e.snapshot)} is not rewritten: ${e.message}`;
          ctx.out.warn(message, { type: 'warning', snapshot: e.snapshot, message });
          return;
        }
        printReplacement(
          ctx,
          e,
          { removed: e.removed },
          { would: 'would rewrite', did: 'rewrote', done: 'rewritten' },
          dryRun,
          removedText(e.removed, dryRun),
        );
      },
    });
    ctx.out.event({
      type: 'summary',
      operation: 'rewrite',
      rewritten: report.rewritten.length,
      unchanged: report.unchanged,
      superseded: report.superseded,
      failed: report.failed.map((f) => f.id),
      forgotten: report.forgotten,
      unmatched: report.unmatched,
      dryRun,
    });
    const examined =
      report.rewritten.length + report.unchanged + report.failed.length + report.superseded.length;
    if (report.superseded.length > 0) {
      ctx.out.note(
        `left ${count(report.superseded.length, 'snapshot')} alone (${report.superseded.map(shortId).join(', ')}): a rewrite of each is there already, and a new one would outrank it; name one to rewrite it, or forget it`,
      );
    }
    if (examined === 0) ctx.out.note('no snapshot matches the selection: nothing to rewrite');
    for (const pattern of report.unmatched) {
      ctx.out.note(
        `${JSON.stringify(pattern)} matched nothing in ${count(examined, 'snapshot')}${unmatchedHint(pattern, report.sourcePaths)}`,
      );
    }
    const verb = dryRun ? 'would rewrite' : 'rewrote';
    ctx.out.result(
      `${verb} ${report.rewritten.length} snapshot(s); ${report.unchanged} held nothing to remove`,
    );
    if (!dryRun && report.rewritten.length > 0) {
      ctx.out.note(
        report.forgotten > 0
          ? `the ${report.forgotten} original record(s) are removed; prune reclaims what only they referenced`
          : 'the original records are kept (cairn forget ID, or --forget next time); prune reclaims their data once they are gone',
      );
    }
    if (report.failed.length > 0) {
      ctx.out.error(
        `${count(report.failed.length, 'snapshot')} could not be read whole and ${report.failed.length === 1 ? 'was' : 'were'} not rewritten (cairn check says what is damaged)`,
      );
      return EXIT.partial;
    }
    return EXIT.ok;
  });
}

/**
 * For an anchored pattern that starts with a path a backup was given: patterns match
 * paths inside the snapshot, so `/home/me/.ssh` in a backup of `/home/me` is `/.ssh`.
 */
function unmatchedHint(pattern: string, recorded: readonly string[]): string {
  if (!pattern.startsWith('/')) return '';
  for (const source of recorded) {
    const base = source.replace(/\/+$/, '');
    if (base !== '' && pattern.startsWith(`${base}/`)) {
      return ` (patterns match paths inside the snapshot: in a backup of ${base}, ${pattern} is ${pattern.slice(base.length)})`;
    }
  }
  return ' (patterns match paths inside the snapshot, from its root, as find shows them)';
}

function removedText(r: RemovedCounts, dryRun: boolean): string {
  const parts = [`${r.files} file(s)`, `${r.dirs} director${r.dirs === 1 ? 'y' : 'ies'}`];
  if (r.others > 0) parts.push(`${r.others} other entr${r.others === 1 ? 'y' : 'ies'}`);
  return `${dryRun ? 'would remove' : 'removed'} ${parts.join(', ')}, ${formatBytes(r.bytes)}`;
}
