/** `cairn init`: create a repository. */
import { createRepository } from '../../repo/repository.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatBytes } from '../format.js';
import { parseInteger, parseSize } from '../parse.js';

interface InitOptions {
  min?: string;
  avg?: string;
  max?: string;
  level?: string;
  seed?: string;
  inlineMax?: string;
}

export default async function init(ctx: CommandContext, opts: InitOptions): Promise<number> {
  const chunker: Record<string, number | string> = {};
  if (opts.min) chunker.min = parseSize(opts.min, '--min');
  if (opts.avg) chunker.avg = parseSize(opts.avg, '--avg');
  if (opts.max) chunker.max = parseSize(opts.max, '--max');
  if (opts.level) chunker.level = parseInteger(opts.level, '--level');
  if (opts.seed) chunker.seed = opts.seed;
  const repo = await createRepository(ctx.repoLocation, {
    chunker,
    ...(opts.inlineMax ? { inlineMax: parseSize(opts.inlineMax, '--inline-max') } : {}),
  });
  try {
    const c = repo.config;
    ctx.out.event({
      type: 'summary',
      operation: 'init',
      repository: repo.location,
      id: c.id,
      chunker: { ...c.chunker, seed: c.chunker.seed.toString() },
      inlineMax: c.inlineMax,
    });
    ctx.out.result(`created cairn repository ${c.id.slice(0, 8)} at ${repo.location}`);
    ctx.out.line(
      `chunks: min ${formatBytes(c.chunker.min)}, avg ${formatBytes(c.chunker.avg)}, max ${formatBytes(c.chunker.max)}, level ${c.chunker.level}; inline files up to ${formatBytes(c.inlineMax)}`,
    );
    return EXIT.ok;
  } finally {
    await repo.close();
  }
}
