/** `cairn cat config|snapshot|tree|blob [ID]`: print one repository object. */
import { UsageError } from '../../core/errors.js';
import { isObjectId } from '../../core/ids.js';
import { encodeConfig } from '../../repo/config.js';
import { type CommandContext, EXIT } from '../context.js';
import { describe } from './ls.js';

export default async function cat(
  ctx: CommandContext,
  kind: string,
  id: string | undefined,
): Promise<number> {
  return ctx.withRepo(async (repo) => {
    if (kind === 'config') {
      await ctx.out.write(encodeConfig(repo.config));
      return EXIT.ok;
    }
    if (!id) throw new UsageError(`cat ${kind} needs an id`);
    if (kind === 'snapshot') {
      const ref = await repo.snapshots.resolve(id, {}, ctx.signal);
      await ctx.out.write(`${JSON.stringify({ id: ref.id, ...ref.snapshot }, null, 2)}\n`);
      return EXIT.ok;
    }
    if (!isObjectId(id)) throw new UsageError(`${id} is not a full 64-digit object id`);
    if (kind === 'tree') {
      const node = await repo.trees.node(id, ctx.signal);
      const json =
        node.kind === 'leaf'
          ? {
              kind: 'leaf',
              entries: node.entries.map((e) => ({
                ...describe(e),
                ...(e.kind === 'file' && e.chunks.length ? { chunks: e.chunks } : {}),
              })),
            }
          : node;
      await ctx.out.write(`${JSON.stringify(json, null, 2)}\n`);
      return EXIT.ok;
    }
    const data = await repo.blobs.get('data', id, { signal: ctx.signal });
    await ctx.out.write(data);
    return EXIT.ok;
  });
}
