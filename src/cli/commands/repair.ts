/**
 * `cairn repair snapshots [SNAPSHOT...]`: remove what can no longer be restored from
 * snapshots (ops/repair.ts).
 */
import { UsageError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import { type LostCounts, repairSnapshots } from '../../ops/repair.js';
import { type CommandContext, EXIT } from '../context.js';
import { count, formatBytes, visiblePath } from '../format.js';
import { printReplacement } from '../replacement-output.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';

interface RepairCliOptions extends FilterOptions {
  readData?: boolean;
  forget?: boolean;
  dryRun?: boolean;
  verbose?: boolean;
}

export default async function repairCommand(
  ctx: CommandContext,
  snapshots: string[],
  opts: RepairCliOptions,
): Promise<number> {
  const filter = snapshotFilter(opts);
  if (snapshots.includes('')) throw new UsageError('repair: the snapshot "" is empty');
  const dryRun = opts.dryRun ?? false;
  return ctx.withRepo(async (repo) => {
    const report = await repairSnapshots(repo, {
      snapshots,
      filter,
      forget: opts.forget ?? false,
      dryRun,
      readData: opts.readData ?? false,
      verbose: opts.verbose ?? false,
      signal: ctx.signal,
      onEvent: (e) => {
        if (e.type === 'progress') {
          ctx.out.progress(
            e.phase === 'list'
              ? { files: e.blobs, unit: 'data blobs listed', elapsedMs: e.elapsedMs }
              : e.phase === 'unreached'
                ? { files: e.trees, unit: 'tree nodes judged', elapsedMs: e.elapsedMs }
                : {
                    files: e.snapshots,
                    totalFiles: e.totalSnapshots,
                    unit: 'snapshots',
                    elapsedMs: e.elapsedMs,
                    extra: `${e.trees} trees`,
                  },
          );
          ctx.out.event(e);
          return;
        }
        if (e.type === 'damaged') {
          ctx.out.event(e);
          const where = e.path === '' ? '/' : visiblePath(e.path);
          const what = e.kind === 'file' ? 'file' : 'directory';
          ctx.out.line(`  ${what} ${where} (in ${shortId(e.snapshot)}): ${e.message}`);
          return;
        }
        if (e.type === 'rewalk') {
          ctx.out.event(e);
          ctx.out.note(
            `the repair wrote again ${count(e.writtenAgain, 'tree node')} it had found lost (a repaired directory equals ${e.writtenAgain === 1 ? 'it' : 'them'}): walking the snapshots again (walk ${e.pass}); what it finds replaces the lines above`,
          );
          return;
        }
        if (e.type === 'unreadable') {
          const message = `snapshot ${shortId(e.snapshot)} cannot be read (${e.message}): only cairn forget removes it`;
          ctx.out.warn(message, { type: 'warning', snapshot: e.snapshot, message });
          return;
        }
        printReplacement(
          ctx,
          e,
          { lost: e.lost },
          { would: 'would repair', did: 'repaired', done: 'repaired' },
          dryRun,
          lostText(e.lost, dryRun),
        );
      },
    });
    ctx.out.event({
      type: 'summary',
      operation: 'repair',
      repaired: report.repaired.length,
      intact: report.intact,
      superseded: report.superseded,
      unreadable: report.unreadable.map((u) => u.id),
      missingBlobs: report.missingBlobs,
      damagedBlobs: report.damagedBlobs,
      deletedBlobs: report.deletedBlobs,
      damagedTrees: report.damagedTrees,
      corruptTrees: report.corruptTrees,
      deletedTrees: report.deletedTrees,
      deletedCorruptTrees: report.deletedCorruptTrees,
      restoredTrees: report.restoredTrees,
      ...(report.lostWrittenAgain ? { lostWrittenAgain: report.lostWrittenAgain } : {}),
      ...(report.postponed ? { postponed: report.postponed } : {}),
      complete: report.complete,
      blobsRead: report.blobsRead,
      forgotten: report.forgotten,
      dryRun,
    });
    if (report.superseded.length > 0) {
      ctx.out.note(
        `left ${count(report.superseded.length, 'snapshot')} alone (${report.superseded.map(shortId).join(', ')}): a later rewrite or repair of each is there, which a new repair would outrank; cairn forget ID removes them`,
      );
    }
    const examined = report.repaired.length + report.intact + report.superseded.length;
    if (examined === 0 && report.unreadable.length === 0) {
      ctx.out.note('no snapshot matches the selection: nothing to repair');
    }
    if (!report.complete && report.damagedTrees > 0) {
      ctx.out.note(
        `kept ${count(report.damagedTrees, 'tree node')} that lead to damage, since snapshots outside the selection may use them; until cairn repair snapshots runs without a selection, backups may reuse them and reference what is lost`,
      );
    } else if (report.damagedTrees > 0 && !report.postponed) {
      ctx.out.note(
        dryRun
          ? `would delete ${count(report.damagedTrees, 'tree node')} that lead to damage`
          : `deleted ${count(report.deletedTrees - report.deletedCorruptTrees, 'tree node')} that led to damage: the next backup of those directories writes them again, and stores again what its sources still hold`,
      );
    }
    if (report.corruptTrees > 0 && !report.postponed) {
      ctx.out.note(
        dryRun
          ? `found ${count(report.corruptTrees, 'corrupt tree node')}: would delete those the repair does not write again`
          : `deleted ${count(report.deletedCorruptTrees, 'corrupt tree node')} (of ${report.corruptTrees} found; the others the repair wrote again, sound)`,
      );
    }
    if (report.restoredTrees > 0) {
      ctx.out.note(
        `${dryRun ? 'would write' : 'wrote'} ${count(report.restoredTrees, 'lost tree node')} again, unchanged (every empty directory has the same node): no snapshot loses anything by ${report.restoredTrees === 1 ? 'it' : 'them'}`,
      );
    }
    if (report.lostWrittenAgain) {
      ctx.out.note(
        `a run would write again ${count(report.lostWrittenAgain, 'tree node')} found lost (a repaired directory equals ${report.lostWrittenAgain === 1 ? 'it' : 'them'}), then walk the snapshots again: it repairs less than this dry run says`,
      );
    }
    if (report.postponed) {
      const message = `nothing was deleted: ${report.postponed}`;
      ctx.out.warn(message, { type: 'warning', message });
    } else if (report.damagedBlobs > 0) {
      ctx.out.note(
        dryRun
          ? `would delete ${count(report.damagedBlobs, 'damaged data blob')}`
          : `deleted ${count(report.deletedBlobs, 'damaged data blob')}: a backup with --force of sources that still hold their data stores it again`,
      );
    }
    ctx.out.result(
      `${dryRun ? 'would repair' : 'repaired'} ${report.repaired.length} snapshot(s); ${report.intact} had nothing to repair`,
    );
    if (!dryRun && report.repaired.some((r) => !r.existing)) {
      ctx.out.note(
        report.forgotten > 0
          ? `the ${report.forgotten} original record(s) are removed; ${report.postponed ? 'what leads to damage is still stored: run the repair again' : 'cairn check should now find nothing'}`
          : `the damaged original records are kept (${report.repaired
              .filter((r) => !r.existing)
              .map((r) => shortId(r.from))
              .join(', ')}): cairn forget ID removes them; check reports them until then`,
      );
    }
    // Records that cannot be read are still damage, and postponed deletions leave
    // what leads to damage stored: either way the run did not make the repository whole.
    return report.unreadable.length > 0 || report.postponed ? EXIT.partial : EXIT.ok;
  });
}

function lostText(lost: LostCounts, dryRun: boolean): string {
  const parts = [`${count(lost.files, 'file')} (${formatBytes(lost.bytes)})`];
  if (lost.trees > 0) {
    parts.push(`${count(lost.trees, 'directory listing')} lost in whole or part`);
  }
  if (lost.entries > 0) parts.push(`${count(lost.entries, 'entry', 'entries')} with them`);
  return `${dryRun ? 'would remove' : 'removed'} ${parts.join(', ')}`;
}
