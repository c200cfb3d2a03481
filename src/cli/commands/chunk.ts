/** `cairn chunk FILE`: print FastCDC chunk boundaries and ids of a file. */
import { createReadStream } from 'node:fs';
import { chunkerParams, chunkStream } from '../../chunker/index.js';
import { isErrnoError } from '../../core/errno.js';
import { sha256Hex } from '../../core/ids.js';
import { DEFAULT_CHUNKER } from '../../repo/config.js';
import { type CommandContext, EXIT } from '../context.js';
import { parseInteger, parseSize } from '../parse.js';

interface ChunkOptions {
  min?: string;
  avg?: string;
  max?: string;
  level: string;
  seed: string;
}

export default async function chunk(
  ctx: CommandContext,
  file: string,
  opts: ChunkOptions,
): Promise<number> {
  const avg = opts.avg ? parseSize(opts.avg, '--avg') : DEFAULT_CHUNKER.avg;
  const params = chunkerParams({
    min: opts.min
      ? parseSize(opts.min, '--min')
      : opts.avg
        ? Math.floor(avg / 4)
        : DEFAULT_CHUNKER.min,
    avg,
    max: opts.max ? parseSize(opts.max, '--max') : opts.avg ? avg * 4 : DEFAULT_CHUNKER.max,
    level: parseInteger(opts.level, '--level'),
    seed: opts.seed,
  });
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024, signal: ctx.signal });
  const lines: string[] = [];
  const flush = async () => {
    if (lines.length > 0) await ctx.out.write(`${lines.join('\n')}\n`);
    lines.length = 0;
  };
  try {
    for await (const c of chunkStream(stream, params, ctx.signal)) {
      const id = sha256Hex(c.data);
      lines.push(
        ctx.globals.json
          ? JSON.stringify({ offset: c.offset, length: c.data.length, id })
          : `${c.offset}\t${c.data.length}\t${id}`,
      );
      if (lines.length >= 1024) await flush();
    }
  } catch (err) {
    // A read error (a directory: EISDIR) comes without the path: name it.
    if (isErrnoError(err) && err.path === undefined) err.path = file;
    throw err;
  }
  await flush();
  return EXIT.ok;
}
