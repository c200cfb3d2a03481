/** `cairn restore SNAPSHOT --target DIR`: restore files. */
import { shortId } from '../../core/ids.js';
import type { RestoreEvent } from '../../ops/events.js';
import { restore } from '../../ops/restore.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatBytes, formatDuration } from '../format.js';

export default async function restoreCommand(
  ctx: CommandContext,
  selector: string,
  opts: { target: string; include?: string[]; verbose?: boolean },
): Promise<number> {
  return ctx.withRepo(async (repo) => {
    const { id, snapshot } = await repo.snapshots.resolve(selector, {}, ctx.signal);
    let warnings = 0;
    const onEvent = (e: RestoreEvent) => {
      if (e.type === 'warning') {
        warnings++;
        ctx.out.warn(`${e.path}: ${e.message}`, e);
      } else if (e.type === 'progress') {
        ctx.out.progress(e);
        ctx.out.event(e);
      } else if (e.type === 'file') {
        if (ctx.out.json) ctx.out.event(e);
        else ctx.out.line(e.path);
      } else ctx.out.event(e);
    };
    const s = await restore(repo, id, snapshot, {
      target: opts.target,
      include: opts.include ?? [],
      verbose: opts.verbose ?? false,
      signal: ctx.signal,
      onEvent,
    });
    ctx.out.event({
      type: 'summary',
      operation: 'restore',
      snapshot: id,
      target: opts.target,
      ...s,
    });
    ctx.out.clearProgress();
    ctx.out.result(
      `restored snapshot ${shortId(id)}: ${s.files} files, ${s.dirs} directories, ${formatBytes(s.bytes)} in ${formatDuration(s.durationMs)} to ${opts.target}`,
    );
    if (warnings > 0) {
      ctx.out.error(`${warnings} entr${warnings === 1 ? 'y' : 'ies'} could not be restored`);
      return EXIT.partial;
    }
    return EXIT.ok;
  });
}
