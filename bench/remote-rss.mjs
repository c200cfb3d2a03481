// Peak memory of one backup into a new local repository seen as a remote one (its chunk
// threads cannot write chunks themselves, as for S3): the path whose memory
// docs/performance.md › Memory that grows with the repository explains.
//
//   node bench/remote-rss.mjs REPO_DIR SOURCE_DIR [remote|local|inventory]
//
// Prints the wall time, VmHWM and the peaks of process.memoryUsage() (sampled every
// 10 ms), in MiB. Vary CAIRN_WORKERS or glibc's MALLOC_* variables to attribute them.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { distModule } from './dist.mjs';

process.env.UV_THREADPOOL_SIZE ??= '16';
const cairn = await distModule();
(await distModule('cli/heap.js')).applyHeapSettings();
const { backup, ForwardingBackend, initRepository, LocalBackend, openRepositoryIn } = cairn;

/** No direct local writes: every chunk goes through the calling thread, as to S3. */
class RemoteLike extends ForwardingBackend {
  directSetup() {
    return undefined;
  }
}

const [repoDir, src, mode = 'remote'] = process.argv.slice(2);
if (!repoDir || !src) {
  console.error('usage: node bench/remote-rss.mjs REPO_DIR SOURCE_DIR [remote|local|inventory]');
  process.exit(2);
}
await initRepository(new LocalBackend(repoDir), {});
const backend =
  mode === 'local' ? new LocalBackend(repoDir) : new RemoteLike(new LocalBackend(repoDir));
const repo = await openRepositoryIn(
  backend,
  mode === 'inventory' ? { inventory: 'on', cacheDir: `${repoDir}-inventory` } : {},
);
const peak = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
}, 10);
const started = performance.now();
await backup(repo, { paths: [src], statCacheDir: false });
clearInterval(sampler);
const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const mib = (x) => (x / 1048576).toFixed(0);
console.log(
  `${mode}: ${(performance.now() - started).toFixed(0)} ms, VmHWM ${hwm.toFixed(0)} MiB, peaks ${Object.entries(
    peak,
  )
    .map(([k, v]) => `${k} ${mib(v)}`)
    .join(', ')}`,
);
await repo.close();
