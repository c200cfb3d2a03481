/** `cairn stats`: repository size and deduplication. */
import { stats } from '../../ops/stats.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatBytes, table } from '../format.js';

export default async function statsCommand(ctx: CommandContext): Promise<number> {
  return ctx.withRepo(async (repo) => {
    const s = await stats(repo, ctx.signal);
    ctx.out.event({ type: 'summary', operation: 'stats', repository: repo.location, ...s });
    ctx.out.result(
      table([
        ['snapshots', String(s.snapshots)],
        ['data blobs', `${s.dataBlobs} (${formatBytes(s.dataBytes)})`],
        ['tree blobs', `${s.treeBlobs} (${formatBytes(s.treeBytes)})`],
        ['objects', `${s.objects} (${formatBytes(s.storedBytes)})`],
        ['snapshot contents', formatBytes(s.logicalBytes)],
        ['deduplication', `${s.dedupRatio.toFixed(2)}x`],
      ]),
    );
    if (s.unreadableSnapshots > 0) {
      ctx.out.error(
        `${s.unreadableSnapshots} snapshot record(s) cannot be read and are not counted (cairn snapshots names them)`,
      );
      return EXIT.partial;
    }
    return EXIT.ok;
  });
}
