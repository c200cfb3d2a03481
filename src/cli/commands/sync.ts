/** `cairn sync SRC DST [SNAPSHOT...]`: copy snapshots DST lacks, sending only missing blobs. */
import type { BackendCounts } from '../../backends/counting.js';
import { shortId } from '../../core/ids.js';
import type { SyncEvent } from '../../ops/events.js';
import { sync } from '../../ops/sync.js';
import type { Repository } from '../../repo/repository.js';
import { type CommandContext, EXIT } from '../context.js';
import { count, formatBytes, formatDuration, formatTime, visiblePath } from '../format.js';
import { lockWaitNote } from '../lock-wait.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';

interface SyncCliOptions extends FilterOptions {
  dryRun?: boolean;
}

export default async function syncCommand(
  ctx: CommandContext,
  from: string,
  to: string,
  selectors: string[],
  opts: SyncCliOptions,
): Promise<number> {
  const dryRun = opts.dryRun ?? false;
  const filter = snapshotFilter(opts);
  const { transfers, checkers } = ctx.tuning;
  const src = await ctx.openRepoAt(from, { passwordRole: 'from' });
  let dst: Repository | undefined;
  try {
    // An encrypted source opened without a password of its own took the `repo` one: that
    // password then says nothing about the destination.
    const srcTookRepoPassword =
      src.config.encryption !== 'none' && ctx.givenPasswordSource('from') === undefined;
    dst = await ctx.openRepoAt(to, { dryRun, passwordCheck: !srcTookRepoPassword });
    const onEvent = (e: SyncEvent) => {
      if (e.type === 'progress') {
        // Percent, rate and ETA in file content (sent or found present); what was
        // really sent after them.
        ctx.out.progress({
          bytes: e.bytes,
          totalBytes: e.totalBytes,
          elapsedMs: e.elapsedMs,
          extra: `${dryRun ? 'would send' : 'sent'} ${e.blobsSent} blobs (${formatBytes(e.bytesSent)}), ${e.blobsSkipped} present, ${e.snapshotsDone}/${e.snapshotsTotal} snapshots`,
        });
      } else if (e.type === 'start') {
        ctx.out.line(
          `${e.snapshots.length} snapshot${e.snapshots.length === 1 ? '' : 's'} to copy from ${e.source} to ${e.destination}` +
            (e.skipped.length > 0 ? `, ${e.skipped.length} already there` : ''),
        );
      } else if (e.type === 'notice') {
        ctx.out.note(e.message);
      } else if (e.type === 'warning') {
        ctx.out.warn(e.message, e); // with --json, the event itself
        return;
      } else if (e.type === 'snapshot') {
        ctx.out.line(
          `${dryRun ? 'would copy' : 'copied'} snapshot ${shortId(e.id)} of ${formatTime(e.time)} (${e.paths.map(visiblePath).join(' ')})`,
        );
      }
      ctx.out.event(e);
    };
    const options = {
      snapshots: selectors,
      filter,
      dryRun,
      transfers,
      checkers,
      signal: ctx.signal,
      onEvent,
      onLockWait: lockWaitNote(ctx.out),
    };
    const report = await sync(src, dst, options);
    ctx.out.event({ type: 'summary', operation: 'sync', ...report });
    ctx.out.clearProgress();
    const verb = dryRun ? 'would send' : 'sent';
    ctx.out.result(
      `${dryRun ? 'would copy' : 'copied'} ${report.copied.length} snapshot${report.copied.length === 1 ? '' : 's'}, skipped ${report.skipped.length} already in ${dst.location}`,
    );
    ctx.out.line(
      `${verb} ${count(report.blobsSent, 'blob')} (${report.dataBlobsSent} data, ${report.treeBlobsSent} tree), ${formatBytes(report.bytesSent)}; ${count(report.blobsSkipped, 'blob')} (${formatBytes(report.bytesSkipped)} of content) already there`,
    );
    ctx.out.line(
      `requests: source ${describeCounts(report.requests.source)}; destination ${describeCounts(report.requests.destination)}; ${formatDuration(report.durationMs)}`,
    );
    if (report.failed.length > 0) {
      ctx.out.error(
        `${count(report.failed.length, 'snapshot')} could not be copied: the source cannot give ${report.failed.length === 1 ? 'it' : 'them'} whole ('cairn check' on it names what is damaged)`,
      );
      return EXIT.partial;
    }
    return EXIT.ok;
  } finally {
    await src.close();
    await dst?.close();
  }
}

function describeCounts(c: BackendCounts): string {
  const total = c.get + c.put + c.stat + c.list + c.delete;
  const parts = (['get', 'put', 'stat', 'list', 'delete'] as const)
    .filter((verb) => c[verb] > 0)
    .map((verb) => `${verb} ${c[verb]}`);
  return `${total}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}
