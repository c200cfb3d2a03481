/** `cairn restore SNAPSHOT --target DIR`: restore files, over an older version if present. */
import { UsageError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import type { RestoreEvent } from '../../ops/events.js';
import { type OverwriteMode, restore } from '../../ops/restore.js';
import { type CommandContext, EXIT } from '../context.js';
import { excludePatterns } from '../exclude-options.js';
import { count, formatBytes, formatDuration, visiblePath } from '../format.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';

interface RestoreCliOptions extends FilterOptions {
  target: string;
  include?: string[];
  exclude?: string[];
  excludeFile?: string[];
  seed?: string[];
  delete?: boolean;
  /** False with --no-xattrs. */
  xattrs?: boolean;
  overwrite: OverwriteMode;
  dryRun?: boolean;
  verbose?: boolean;
}

export default async function restoreCommand(
  ctx: CommandContext,
  selector: string,
  opts: RestoreCliOptions,
): Promise<number> {
  // An empty include (an unset shell variable) would mean the whole snapshot, and with
  // --delete the whole target.
  if (opts.include?.some((path) => path.trim() === '')) {
    throw new UsageError(
      '--include "": the path is empty; give / to mean the whole snapshot explicitly',
    );
  }
  const exclude = await excludePatterns(opts);
  const filter = snapshotFilter(opts);
  return ctx.withRepo(async (repo) => {
    const { id, snapshot } = await ctx.resolveSnapshot(repo, selector, filter);
    let warnings = 0;
    const onEvent = (e: RestoreEvent) => {
      if (e.type === 'warning') {
        warnings++;
        ctx.out.warn(`${visiblePath(e.path)}: ${e.message}`, e);
      } else if (e.type === 'progress') {
        ctx.out.progress(e);
        ctx.out.event(e);
      } else if (e.type === 'file') {
        if (ctx.out.json) ctx.out.event(e);
        else
          ctx.out.line(
            `${e.action === 'write' ? (opts.dryRun ? 'would write' : 'wrote') : e.action} ${visiblePath(e.path)}`,
          );
      } else if (e.type === 'delete') {
        if (ctx.out.json) ctx.out.event(e);
        else ctx.out.line(`${opts.dryRun ? 'would delete' : 'deleted'} ${visiblePath(e.path)}`);
      } else if (e.type === 'notice') {
        // Not a warning: what is kept there was asked for (exit code unchanged).
        if (ctx.out.json) ctx.out.event(e);
        else ctx.out.note(e.path ? `${visiblePath(e.path)}: ${e.message}` : e.message);
      } else ctx.out.event(e);
    };
    let s: Awaited<ReturnType<typeof restore>>;
    try {
      s = await restore(repo, id, snapshot, {
        target: opts.target,
        include: opts.include ?? [],
        exclude,
        seeds: opts.seed ?? [],
        delete: opts.delete ?? false,
        overwrite: opts.overwrite,
        xattrs: opts.xattrs ?? true,
        dryRun: opts.dryRun ?? false,
        verbose: opts.verbose ?? false,
        signal: ctx.signal,
        onEvent,
      });
    } catch (err) {
      if (ctx.signal.aborted && !opts.dryRun) {
        // What was written stays: whole files under their names, and new directories
        // not finished yet under .cairn-tmp-* names, which the next restore reuses.
        ctx.out.error(
          `restore into ${opts.target} stopped before the end: run the same restore again to finish it (it reuses what was written)`,
        );
      }
      throw err;
    }
    ctx.out.event({
      type: 'summary',
      operation: 'restore',
      snapshot: id,
      target: opts.target,
      dryRun: opts.dryRun ?? false,
      ...s,
    });
    ctx.out.clearProgress();
    const verb = opts.dryRun ? 'would restore' : 'restored';
    ctx.out.result(
      `${verb} snapshot ${shortId(id)}: ${count(s.files, 'file')} (${s.filesUnchanged} already up to date), ${count(s.dirs, 'directory', 'directories')}, ${formatBytes(s.bytes)} to ${opts.target} in ${formatDuration(s.durationMs)}`,
    );
    if (s.filesSkipped > 0) {
      ctx.out.result(
        `${s.filesSkipped} existing file${s.filesSkipped === 1 ? '' : 's'} ${opts.dryRun ? 'would be' : s.filesSkipped === 1 ? 'was' : 'were'} left as ${s.filesSkipped === 1 ? 'it was' : 'they were'} (--overwrite never)`,
      );
    }
    if (s.excluded > 0) {
      ctx.out.result(
        `${count(s.excluded, 'entry', 'entries')} left out (--exclude); ${opts.delete ? 'what the target holds there stays' : 'not restored'}`,
      );
    }
    ctx.out.line(
      `${opts.dryRun ? 'would fetch' : 'fetched'} ${formatBytes(s.bytesFetched)}, ${opts.dryRun ? 'would reuse' : 'reused'} ${formatBytes(s.bytesReused)} without fetching (local files, repeated chunks, holes)` +
        (s.deleted > 0 ? `, ${opts.dryRun ? 'would delete' : 'deleted'} ${s.deleted}` : ''),
    );
    if (warnings > 0) {
      ctx.out.error(`${warnings} entr${warnings === 1 ? 'y' : 'ies'} could not be restored`);
      return EXIT.partial;
    }
    return EXIT.ok;
  });
}
