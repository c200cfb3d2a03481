// Peak memory of `check` (structure only, no --read-data) and of prune's mark phase
// against simulated repositories of N data blobs (issue #8: memory must not grow with
// the repository). Each measured step runs in its own process, with the CLI's heap
// settings; its peak RSS is VmHWM from /proc/self/status.
//
// Simulation: a local repository with one snapshot whose trees reference N made-up data
// blob ids (1000 directories' worth of 1000 files of 10 chunks at 10M; the tree nodes are
// real and read back), seen through a backend whose `data/` listing yields those N ids
// plus 1000 unreferenced ones (RSS_UNREFERENCED), without writing the data blobs
// themselves.
//
// Usage: node bench/rss-check.mjs [N ...]            (default 10000 1000000)
// Env:   CAIRN_DIST    cairn build to use (default dist/; see bench/dist.mjs)
//        RSS_INMEMORY=1 also run each step with sets never spilled (the old behaviour's
//                      memory profile: one JS entry per blob)
//        RSS_DIR       where fixtures go (default os.tmpdir()/cairn-rss-check)
//        RSS_UNREFERENCED  made-up blobs the listing adds that nothing references
//                      (default 1000); with RSS_SWEEP=1 a prune that marks and sweeps
//                      them (deleting keys that have no files: a no-op) runs as well
//        NODE_OPTIONS  passed on to the steps (e.g. --max-old-space-size=96)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distModule } from './dist.mjs';

const FILES_PER_DIR = 1000;
const CHUNKS_PER_FILE = 10;
const UNREFERENCED = Number(process.env.RSS_UNREFERENCED ?? 1000);
const CHUNK_SIZE = 65536;

const fakeId = (i) => createHash('sha256').update(`rss:${i}`).digest('hex');

function peakRssMiB() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

async function openFixture(cairn, dir, blobs) {
  const { ForwardingBackend, LocalBackend, blobKey, openRepositoryIn } = cairn;
  /** A listing of `data/` that holds the made-up blobs (the files do not exist). */
  class FakeData extends ForwardingBackend {
    async *list(prefix, options) {
      if (prefix !== 'data/') {
        yield* this.inner.list(prefix, options);
        return;
      }
      for (let i = 0; i < blobs + UNREFERENCED; i++) {
        yield { key: blobKey('data', fakeId(i)), size: CHUNK_SIZE };
      }
    }
  }
  return openRepositoryIn(new FakeData(new LocalBackend(join(dir, 'repo'))), {
    cacheDir: join(dir, 'cache'),
    inventory: 'off',
  });
}

const steps = {
  /** Writes the repository: real tree nodes referencing `blobs` made-up chunk ids. */
  async fixture(cairn, { dir, blobs }) {
    const { DirectoryWriter, LocalBackend, initRepository } = cairn;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const repo = await initRepository(new LocalBackend(join(dir, 'repo')), {});
    const meta = { mode: 0o644, uid: 0, gid: 0, mtime: { sec: 0, nsec: 0 } };
    const perDir = FILES_PER_DIR * CHUNKS_PER_FILE;
    const dirs = Math.ceil(blobs / perDir);
    const root = new DirectoryWriter(repo.blobs, repo.config.paging);
    let next = 0;
    for (let d = 0; d < dirs; d++) {
      const w = new DirectoryWriter(repo.blobs, repo.config.paging);
      let files = 0;
      for (let f = 0; f < FILES_PER_DIR && next < blobs; f++) {
        const chunks = [];
        for (let c = 0; c < CHUNKS_PER_FILE && next < blobs; c++) {
          chunks.push({ id: fakeId(next++), size: CHUNK_SIZE });
        }
        await w.add({
          name: `f${String(f).padStart(6, '0')}`,
          kind: 'file',
          ...meta,
          size: chunks.length * CHUNK_SIZE,
          chunks,
        });
        files++;
      }
      const { tree } = await w.finish();
      await root.add({
        name: `d${String(d).padStart(6, '0')}`,
        kind: 'dir',
        ...meta,
        mode: 0o755,
        tree,
        files,
        bytes: 0,
      });
    }
    const { tree } = await root.finish();
    const zero = { files: 0, dirs: 0, bytes: 0, filesNew: 0, filesChanged: 0 };
    await repo.snapshots.save({
      time: new Date().toISOString(),
      hostname: 'bench',
      username: 'bench',
      paths: ['/bench'],
      tags: [],
      tree,
      summary: {
        ...zero,
        filesUnchanged: 0,
        blobsAdded: 0,
        bytesAdded: 0,
        errors: 0,
        durationMs: 0,
      },
      program: 'bench',
    });
    await repo.close?.();
    return { dirs };
  },

  async check(cairn, { dir, blobs }) {
    const repo = await openFixture(cairn, dir, blobs);
    const r = await cairn.check(repo);
    if (r.problems.length > 0 || r.dataBlobs !== blobs || r.unreferencedBlobs !== UNREFERENCED) {
      throw new Error(`unexpected check result ${JSON.stringify(r).slice(0, 500)}`);
    }
    return { trees: r.trees, dataBlobs: r.dataBlobs, unreferenced: r.unreferencedBlobs };
  },

  /** A prune run that marks (the grace period keeps it from sweeping). */
  async mark(cairn, { dir, blobs }) {
    const repo = await openFixture(cairn, dir, blobs);
    await repo.backend.delete('prune/candidates').catch(() => {});
    const r = await cairn.prune(repo, { graceMs: 3600_000 });
    if (r.marked !== UNREFERENCED || r.swept) {
      throw new Error(`unexpected prune result ${JSON.stringify(r)}`);
    }
    return { referenced: r.referencedBlobs, marked: r.marked };
  },

  /** A prune run that marks and sweeps at once (grace 0): the unreferenced blobs go. */
  async sweep(cairn, { dir, blobs }) {
    const repo = await openFixture(cairn, dir, blobs);
    await repo.backend.delete('prune/candidates').catch(() => {});
    const r = await cairn.prune(repo, { graceMs: 0 });
    if (!r.swept || r.deletedData !== UNREFERENCED) {
      throw new Error(`unexpected prune result ${JSON.stringify(r)}`);
    }
    return { referenced: r.referencedBlobs, deleted: r.deletedData };
  },
};

async function runStep() {
  const [, , , name, json] = process.argv;
  const args = JSON.parse(json);
  const cairn = await distModule();
  // The heap settings of the `cairn` executable (src/cli/heap.ts), as bench/step.mjs.
  const heap = await distModule('cli/heap.js').catch(() => undefined);
  heap?.applyHeapSettings?.();
  const started = performance.now();
  const peaks = {};
  const sample = () => {
    for (const [k, v] of Object.entries(process.memoryUsage())) {
      peaks[k] = Math.max(peaks[k] ?? 0, Math.round(v / 1048576));
    }
    if (process.env.RSS_SMAPS === '1') smapsPeak(peaks);
    for (const m of readFileSync('/proc/self/status', 'utf8').matchAll(/(Rss\w+):\s+(\d+) kB/g)) {
      peaks[m[1]] = Math.max(peaks[m[1]] ?? 0, Math.round(Number(m[2]) / 1024));
    }
  };
  const timer = setInterval(sample, 100);
  const result = await steps[name](cairn, args);
  clearInterval(timer);
  sample();
  if (peaks.smapsTop) console.error(JSON.stringify(peaks.smapsTop));
  const tmp = join(args.dir, 'cache', 'tmp');
  const leftover = existsSync(tmp) ? readdirCount(tmp) : 0;
  console.log(
    JSON.stringify({
      step: name,
      blobs: args.blobs,
      ms: Math.round(performance.now() - started),
      rssMiB: Math.round(peakRssMiB() * 10) / 10,
      leftoverTempDbs: leftover,
      // Sampled every 100 ms: anonymous (private) and file-backed (mapped files) RSS.
      rssAnonMiB: peaks.RssAnon,
      rssFileMiB: peaks.RssFile,
      heapTotalMiB: peaks.heapTotal,
      ...result,
    }),
  );
}

/** Debugging aid: at each new peak of file-backed RSS, the mappings that hold it. */
function smapsPeak(peaks) {
  const byName = new Map();
  let name = '';
  let total = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) name = head[1].replace(/\/[^/]*$/, '/*');
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && name.startsWith('/')) {
      byName.set(name, (byName.get(name) ?? 0) + Number(rss[1]));
      total += Number(rss[1]);
    }
  }
  if (total > (peaks.smapsFileKiB ?? 0)) {
    peaks.smapsFileKiB = total;
    peaks.smapsTop = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 5);
  }
}

function readdirCount(path) {
  return execFileSync('ls', ['-A', path], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
}

function child(name, args, env = {}) {
  const out = execFileSync(
    process.execPath,
    [import.meta.filename, '--step', name, JSON.stringify(args)],
    { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

async function main() {
  const counts = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const root = process.env.RSS_DIR ?? join(tmpdir(), 'cairn-rss-check');
  const rows = [];
  for (const blobs of counts.length > 0 ? counts : [10_000, 1_000_000]) {
    const dir = join(root, `n${blobs}`);
    const f = child('fixture', { dir, blobs });
    console.error(`fixture ${blobs}: ${f.ms} ms, ${f.dirs} directories`);
    const variants = [['on-disk', {}]];
    if (process.env.RSS_INMEMORY === '1') {
      variants.push(['in-memory', { CAIRN_SPILL_THRESHOLD: String(Number.MAX_SAFE_INTEGER) }]);
    }
    for (const [variant, env] of variants) {
      const stepNames = ['check', 'mark', ...(process.env.RSS_SWEEP === '1' ? ['sweep'] : [])];
      for (const step of stepNames) {
        const r = { variant, ...child(step, { dir, blobs }, env) };
        console.error(JSON.stringify(r));
        rows.push(r);
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    '| step | variant | blobs | peak RSS (VmHWM, MiB) | RssAnon peak | RssFile peak | V8 heap peak | time (s) |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.step} | ${r.variant} | ${r.blobs.toLocaleString('en')} | ${r.rssMiB} | ${r.rssAnonMiB} | ${r.rssFileMiB} | ${r.heapTotalMiB} | ${(r.ms / 1000).toFixed(1)} |`,
    );
  }
  await writeFile(join(root, 'last.json'), JSON.stringify(rows, null, 1));
}

if (process.argv[2] === '--step') await runStep();
else await main();
