/** `cairn prune [--dry-run] [--grace DURATION]`: delete blobs no snapshot references. */
import { UsageError } from '../../core/errors.js';
import { type PruneEvent, type PruneReport, prune } from '../../ops/prune.js';
import { parseDuration, subtractDuration } from '../../ops/retention.js';
import { type CommandContext, EXIT } from '../context.js';
import { count, formatBytes, formatTime } from '../format.js';

export default async function pruneCommand(
  ctx: CommandContext,
  opts: { dryRun?: boolean; grace?: string },
): Promise<number> {
  const graceMs = opts.grace !== undefined ? parseGrace(opts.grace) : undefined;
  return ctx.withRepo(async (repo) => {
    const report = await prune(repo, {
      dryRun: opts.dryRun ?? false,
      ...(graceMs !== undefined ? { graceMs } : {}),
      signal: ctx.signal,
      onEvent: pruneEvent(ctx),
    });
    printPrune(ctx, report);
    return EXIT.ok;
  });
}

/**
 * Parses a grace period: `0`, or a duration like `1h`, `2d`. Months are refused: in the
 * `--keep-within` grammar `m` is a month, and `--grace 30m` is far more likely meant as
 * 30 minutes than as two and a half years of keeping garbage.
 */
export function parseGrace(text: string): number {
  if (text.trim() === '0') return 0;
  const d = parseDuration(text);
  if (d.months > 0) {
    throw new UsageError(
      `--grace ${JSON.stringify(text)}: m means months here (as in --keep-within), not minutes; give hours or days (e.g. 1h, 2d)`,
    );
  }
  const now = Date.UTC(2000, 0, 1);
  const ms = now - subtractDuration(now, d);
  if (!(ms >= 0) || !Number.isFinite(ms)) {
    throw new UsageError(`--grace: bad duration ${JSON.stringify(text)}`);
  }
  return ms;
}

/**
 * Prints what prune says as it happens (a damaged candidate list, dropped before
 * anything is deleted): a `notice` event with --json, else a line on stdout, as the
 * report's lines (also with --quiet).
 */
export function pruneEvent(ctx: CommandContext): (e: PruneEvent) => void {
  return (e) => {
    ctx.out.event(e);
    ctx.out.result(e.message);
  };
}

/** Prints a prune report (text and --json). */
export function printPrune(ctx: CommandContext, r: PruneReport): void {
  ctx.out.event({ type: 'summary', operation: 'prune', ...r });
  // What was deleted first, then what is left: read the other way round, "0 remain"
  // followed by "deleted 2" looked like a contradiction.
  if (!r.dryRun && r.swept) {
    ctx.out.result(
      `deleted ${count(r.deletedTrees, 'tree node')} and ${count(r.deletedData, 'data blob')} (${formatBytes(r.deletedBytes)})`,
    );
  }
  const one = r.unreferencedBlobs === 1;
  const left = r.dryRun ? (one ? 'is there' : 'are there') : one ? 'remains' : 'remain';
  const references = r.snapshots === 1 ? 'references' : 'reference';
  ctx.out.result(
    `${count(r.snapshots, 'snapshot')} ${references} ${count(r.referencedBlobs, 'blob')}; ${count(r.unreferencedBlobs, 'unreferenced blob')} (${formatBytes(r.unreferencedBytes)}) ${left}`,
  );
  if (r.tempFilesRemoved > 0) {
    ctx.out.result(
      `${r.dryRun ? 'would remove' : 'removed'} ${count(r.tempFilesRemoved, 'temporary file')} that killed writers left over an hour ago`,
    );
  }
  if (r.dryRun) {
    ctx.out.result('dry run: nothing marked or deleted');
    return;
  }
  if (r.postponed) ctx.out.result(`deletion postponed: ${r.postponed}`);
  if (r.marked > 0 && r.sweepAfter) {
    ctx.out.result(
      `${count(r.marked, 'unreferenced blob')} ${r.marked === 1 ? 'is' : 'are'} marked; a prune after ${formatTime(r.sweepAfter)} deletes those still unreferenced`,
    );
  }
}
