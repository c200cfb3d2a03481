/**
 * `cairn cat config|snapshot|tree|blob [ID]`: print one repository object: as indented
 * JSON (a blob as its raw bytes) for people and scripts piping it on, or with `--json`
 * as one NDJSON object typed like every other (a blob's bytes in base64).
 */
import { UsageError } from '../../core/errors.js';
import { isObjectId } from '../../core/ids.js';
import { encodeConfig } from '../../repo/config.js';
import { type CommandContext, EXIT } from '../context.js';
import { type FilterOptions, hasFilter, snapshotFilter } from '../snapshot-filter-options.js';
import { describe } from './ls.js';

export default async function cat(
  ctx: CommandContext,
  kind: string,
  id: string | undefined,
  opts: FilterOptions = {},
): Promise<number> {
  if (kind !== 'snapshot' && hasFilter(opts)) {
    throw new UsageError(`--tag, --host and --path choose a snapshot: not with cat ${kind}`);
  }
  const filter = snapshotFilter(opts);
  if (kind === 'config' && id !== undefined) {
    throw new UsageError(`cat config takes no id (got ${JSON.stringify(id)})`);
  }
  return ctx.withRepo(async (repo) => {
    if (kind === 'config') {
      const text = encodeConfig(repo.config);
      if (ctx.out.json) ctx.out.event({ type: 'config', ...JSON.parse(utf8.decode(text)) });
      else await ctx.out.write(text);
      return EXIT.ok;
    }
    if (!id) throw new UsageError(`cat ${kind} needs an id`);
    if (kind === 'snapshot') {
      const ref = await ctx.resolveSnapshot(repo, id, filter);
      await print(ctx, { type: 'snapshot', id: ref.id, ...ref.snapshot });
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
      await print(ctx, { type: 'tree', id, ...json });
      return EXIT.ok;
    }
    const data = await repo.blobs.get('data', id, { signal: ctx.signal });
    if (ctx.out.json) {
      const base64 = Buffer.from(data.buffer, data.byteOffset, data.length).toString('base64');
      ctx.out.event({ type: 'blob', id, size: data.length, base64 });
    } else await ctx.out.write(data);
    return EXIT.ok;
  });
}

const utf8 = new TextDecoder();

/** One object: an NDJSON line with --json, else indented for people (without `type`). */
async function print(
  ctx: CommandContext,
  obj: { type: string; [k: string]: unknown },
): Promise<void> {
  if (ctx.out.json) {
    ctx.out.event(obj);
    return;
  }
  const { type: _, ...rest } = obj;
  await ctx.out.write(`${JSON.stringify(rest, null, 2)}\n`);
}
