// The cost of encryption and compression on backup throughput: the same corpus (half
// random, half text) backed up into four fresh local repositories: plain, encrypted,
// compressed (zstd auto), and both. Env: CRYPTO_BENCH_MB (default 256).

import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeLargeCorpus } from './corpus.mjs';
import { distModule } from './dist.mjs';

const { backup, initRepository, LocalBackend, stats } = await distModule();

const VARIANTS = [
  ['plain', {}],
  ['encrypted', { encryption: { password: 'bench' } }],
  ['compressed (zstd auto)', { compression: 'auto' }],
  ['encrypted + compressed', { encryption: { password: 'bench' }, compression: 'auto' }],
];

/** Rows [measure, value, notes] for bench/run.mjs. */
export async function benchCodecs({ root }) {
  const mb = Number(process.env.CRYPTO_BENCH_MB ?? 256);
  const corpus = join(root, `codec-corpus-${mb}`);
  if (!existsSync(corpus)) await writeLargeCorpus(corpus, mb * 1048576, 64);
  const rows = [];
  let baseline;
  for (const [name, options] of VARIANTS) {
    const dir = join(root, 'repo-codec');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const repo = await initRepository(new LocalBackend(dir), options);
    const t = performance.now();
    const { snapshot } = await backup(repo, { paths: [corpus], statCacheDir: false });
    const ms = performance.now() - t;
    const s = await stats(repo);
    await repo.close();
    const rate = snapshot.summary.bytes / 1048576 / (ms / 1000);
    baseline ??= rate;
    rows.push([
      `backup ${mb} MiB (half random, half text), ${name}`,
      `${rate.toFixed(0)} MiB/s`,
      `${(ms / 1000).toFixed(2)} s, ${(s.storedBytes / 1048576).toFixed(0)} MiB stored, ${((rate / baseline) * 100).toFixed(0)}% of plain`,
    ]);
  }
  await rm(join(root, 'repo-codec'), { recursive: true, force: true });
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = join(process.cwd(), '.bench');
  for (const [what, value, notes] of await benchCodecs({ root })) {
    console.log(`${what.padEnd(64)} ${value.padStart(10)}  ${notes}`);
  }
}
