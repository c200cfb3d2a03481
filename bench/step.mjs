// One benchmark step in its own process, so peak RSS belongs to that step alone.
// Usage: node bench/step.mjs <step> <json-args>; prints one JSON line.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  backup,
  initRepository,
  LocalBackend,
  openRepositoryIn,
  restore,
  stats,
} from '../dist/index.js';

const [step, argsJson] = process.argv.slice(2);

function peakRssMiB() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to getrusage
  }
  return process.resourceUsage().maxRSS / 1024;
}
const args = JSON.parse(argsJson ?? '{}');

async function open(dir) {
  return openRepositoryIn(new LocalBackend(dir));
}

const steps = {
  async init({ repo, avg }) {
    const r = await initRepository(
      new LocalBackend(repo),
      avg ? { chunker: { min: avg / 4, avg, max: avg * 4 } } : {},
    );
    return { id: r.config.id };
  },
  async backup({ repo, src, cache }) {
    const r = await open(repo);
    const t = performance.now();
    const { snapshot } = await backup(r, { paths: [src], statCacheDir: cache });
    return { ms: performance.now() - t, summary: snapshot.summary };
  },
  async restore({ repo, target }) {
    const r = await open(repo);
    const [latest] = (await r.snapshots.list()).slice(-1);
    const t = performance.now();
    const s = await restore(r, latest.id, latest.snapshot, { target });
    return { ms: performance.now() - t, summary: s };
  },
  async stats({ repo }) {
    return stats(await open(repo));
  },
};

const result = await steps[step](args);
// Peak RSS of this process alone. getrusage's maxrss is not: Linux carries it over from
// the parent through fork and exec, so a large parent would show in every step.
result.maxRssMiB = peakRssMiB();
process.stdout.write(`${JSON.stringify(result)}\n`);
