/**
 * `cairn chunk FILE`: print FastCDC chunk boundaries and ids of a file. With a
 * repository (`--repo`, or `$CAIRN_REPO` when no chunker option is given) it cuts with
 * that repository's parameters and prints its ids (keyed in an encrypted repository),
 * so the output is what a backup of FILE into it stores.
 */
import { createReadStream } from 'node:fs';
import { type ChunkerParams, chunkerParams, chunkStream } from '../../chunker/index.js';
import { isErrnoError } from '../../core/errno.js';
import { UsageError } from '../../core/errors.js';
import { sha256Hex } from '../../core/ids.js';
import { DEFAULT_CHUNKER } from '../../repo/config.js';
import { chunkerFromFlags } from '../chunker-options.js';
import { type CommandContext, EXIT } from '../context.js';

interface ChunkOptions {
  min?: string;
  avg?: string;
  max?: string;
  level?: string;
  seed?: string;
}

export default async function chunk(
  ctx: CommandContext,
  file: string,
  opts: ChunkOptions,
): Promise<number> {
  // Any chunker option typed counts as given, even at its default value (`--level 1`):
  // it asks for those parameters, not the repository's.
  const flags = {
    min: opts.min,
    avg: opts.avg,
    max: opts.max,
    level: opts.level,
    seed: opts.seed,
  };
  const given = Object.entries(flags)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => `--${k}`);
  if (given.length > 0 && ctx.globals.repo !== undefined) {
    // A backup into the repository cuts with its own parameters, whatever these say.
    throw new UsageError(
      `chunk: --repo cannot be combined with ${given.join(', ')}: the repository's chunker parameters are used`,
    );
  }
  const location = given.length === 0 ? (ctx.globals.repo ?? process.env.CAIRN_REPO) : undefined;
  if (location === undefined || location === '') {
    const choice = chunkerFromFlags(flags, { ...DEFAULT_CHUNKER, name: 'the default' });
    return printChunks(ctx, file, chunkerParams(choice), sha256Hex);
  }
  return ctx.withRepo((repo) =>
    printChunks(ctx, file, repo.config.chunker, (data) => repo.codec.idOf(data)),
  );
}

async function printChunks(
  ctx: CommandContext,
  file: string,
  params: ChunkerParams,
  idOf: (data: Uint8Array) => string,
): Promise<number> {
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024, signal: ctx.signal });
  const lines: string[] = [];
  const flush = async () => {
    if (lines.length > 0) await ctx.out.write(`${lines.join('\n')}\n`);
    lines.length = 0;
  };
  let chunks = 0;
  let bytes = 0;
  try {
    for await (const c of chunkStream(stream, params, ctx.signal)) {
      const id = idOf(c.data);
      chunks++;
      bytes += c.data.length;
      lines.push(
        ctx.globals.json
          ? JSON.stringify({ type: 'chunk', offset: c.offset, length: c.data.length, id })
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
  if (ctx.globals.json) ctx.out.event({ type: 'summary', operation: 'chunk', chunks, bytes });
  return EXIT.ok;
}
