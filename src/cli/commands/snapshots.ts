/** `cairn snapshots`: list snapshots, oldest first. */
import { shortId } from '../../core/ids.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatBytes, formatTime, table, visiblePath } from '../format.js';
import { checkHostOption } from '../parse.js';
import { unreadableSnapshots } from '../unreadable-snapshots.js';

export default async function snapshots(
  ctx: CommandContext,
  opts: { tag?: string[]; host?: string },
): Promise<number> {
  // An empty filter would be read as none: every host's snapshots.
  if (opts.host !== undefined) checkHostOption(opts.host, '--host');
  return ctx.withRepo(async (repo) => {
    const unreadable = unreadableSnapshots(ctx.out);
    const refs = await repo.snapshots.list(
      { ...(opts.tag ? { tags: opts.tag } : {}), ...(opts.host ? { hostname: opts.host } : {}) },
      ctx.signal,
      unreadable.onUnreadable,
    );
    for (const { id, snapshot: s } of refs) {
      ctx.out.event({ type: 'snapshot', id, ...s });
    }
    ctx.out.event({
      type: 'summary',
      operation: 'snapshots',
      snapshots: refs.length,
      ...(unreadable.count > 0 ? { unreadable: unreadable.count } : {}),
    });
    if (!ctx.out.json) {
      const rows = [['ID', 'Time', 'Host', 'Tags', 'Files', 'Size', 'Paths']];
      for (const { id, snapshot: s } of refs) {
        rows.push([
          shortId(id),
          formatTime(s.time),
          visiblePath(s.hostname),
          s.tags.join(','),
          String(s.summary.files),
          formatBytes(s.summary.bytes),
          s.paths.map(visiblePath).join(' '),
        ]);
      }
      ctx.out.result(table(rows));
      ctx.out.result(`${refs.length} snapshot${refs.length === 1 ? '' : 's'}`);
    }
    if (unreadable.count > 0) {
      ctx.out.error(
        `${unreadable.count} snapshot record(s) cannot be read and are not listed; forget and prune refuse to run until they are removed`,
      );
      return EXIT.partial;
    }
    return EXIT.ok;
  });
}
