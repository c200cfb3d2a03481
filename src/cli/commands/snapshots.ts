/** `cairn snapshots`: list snapshots, oldest first. */
import { shortId } from '../../core/ids.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatBytes, formatTime, table } from '../format.js';

export default async function snapshots(
  ctx: CommandContext,
  opts: { tag?: string[]; host?: string },
): Promise<number> {
  return ctx.withRepo(async (repo) => {
    const refs = await repo.snapshots.list(
      { ...(opts.tag ? { tags: opts.tag } : {}), ...(opts.host ? { hostname: opts.host } : {}) },
      ctx.signal,
    );
    for (const { id, snapshot: s } of refs) {
      ctx.out.event({ type: 'snapshot', id, ...s });
    }
    ctx.out.event({ type: 'summary', operation: 'snapshots', snapshots: refs.length });
    if (!ctx.out.json) {
      const rows = [['ID', 'Time', 'Host', 'Tags', 'Files', 'Size', 'Paths']];
      for (const { id, snapshot: s } of refs) {
        rows.push([
          shortId(id),
          formatTime(s.time),
          s.hostname,
          s.tags.join(','),
          String(s.summary.files),
          formatBytes(s.summary.bytes),
          s.paths.join(' '),
        ]);
      }
      ctx.out.result(table(rows));
      ctx.out.result(`${refs.length} snapshot${refs.length === 1 ? '' : 's'}`);
    }
    return EXIT.ok;
  });
}
