/** `cairn check [--read-data | --read-data-subset N/M|P%]`: verify the repository. */

import { check } from '../../ops/check.js';
import type { CheckEvent } from '../../ops/events.js';
import type { Repository } from '../../repo/repository.js';
import { type CommandContext, EXIT } from '../context.js';
import { count, formatBytes, visiblePath } from '../format.js';
import { ignoreNotice } from '../key-slot-notice.js';

export default async function checkCommand(
  ctx: CommandContext,
  opts: CheckCliOptions,
): Promise<number> {
  // check reports damaged key slots itself, as problems.
  return ctx.withRepo((repo) => checkRepository(ctx, opts, repo), { onNotice: ignoreNotice });
}

interface CheckCliOptions {
  readData?: boolean;
  readDataSubset?: string;
}

async function checkRepository(
  ctx: CommandContext,
  opts: CheckCliOptions,
  repo: Repository,
): Promise<number> {
  const onEvent = (e: CheckEvent) => {
    if (e.type === 'progress') {
      if (e.phase === 'read') {
        // Reading data back: blobs and bytes read of those to read, with percent and ETA.
        ctx.out.progress({
          files: e.blobsRead,
          unit: 'data blobs',
          bytes: e.bytes,
          elapsedMs: e.elapsedMs,
          ...(e.totalBlobs !== undefined ? { totalFiles: e.totalBlobs } : {}),
          ...(e.totalBytes !== undefined ? { totalBytes: e.totalBytes } : {}),
          extra: `${e.trees} trees`,
        });
      } else if (e.phase === 'list') {
        ctx.out.progress({
          files: e.blobs,
          unit: 'data blobs',
          elapsedMs: e.elapsedMs,
          extra: `${e.trees} trees`,
        });
      } else {
        ctx.out.progress({ files: e.trees, unit: 'trees', elapsedMs: e.elapsedMs });
      }
    }
    ctx.out.event(e);
  };
  const report = await check(repo, {
    readData: opts.readData ?? false,
    ...(opts.readDataSubset !== undefined ? { readDataSubset: opts.readDataSubset } : {}),
    signal: ctx.signal,
    onEvent,
  });
  ctx.out.event({
    type: 'summary',
    operation: 'check',
    ...report,
    problems: report.problems.length,
  });
  ctx.out.clearProgress();
  for (const p of report.problems) {
    ctx.out.result(`error: ${p.message}`);
    if (p.snapshots.length > 0)
      ctx.out.result(`  affects snapshots: ${p.snapshots.map((s) => s.slice(0, 8)).join(', ')}`);
    for (const path of p.paths.slice(0, 20)) ctx.out.result(`  affects: ${visiblePath(path)}`);
    if (p.paths.length > 20) ctx.out.result(`  ... and ${p.paths.length - 20} more paths`);
  }
  ctx.out.result(
    `checked ${count(report.snapshots, 'snapshot')}, ${count(report.trees, 'tree node')}, ${count(report.dataBlobs, 'data blob')}${opts.readData || opts.readDataSubset !== undefined ? ` (read ${count(report.dataBlobsRead, 'blob')}, ${formatBytes(report.bytesRead)})` : ''}; ${count(report.unreferencedBlobs, 'unreferenced data blob')}`,
  );
  if (report.problems.length > 0) {
    ctx.out.error(`${report.problems.length} problem(s) found`);
    return EXIT.failure;
  }
  ctx.out.result('no problems found');
  return EXIT.ok;
}
