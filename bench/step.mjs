// One benchmark step in its own process, so peak RSS belongs to that step alone.
// Usage: node bench/step.mjs <step> <json-args>; prints one JSON line.
// The cairn build comes from $CAIRN_DIST (default ../dist), so the bench can run a
// private build while dist/ is being rebuilt by others.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { distModule } from './dist.mjs';
import { fakeBlobIds } from './fake-ids.mjs';

// The process settings of the `cairn` executable (src/cli/bin.ts), so time and RSS are
// the CLI's: libuv's pool size (read when the pool first starts) and the heap settings.
process.env.UV_THREADPOOL_SIZE ??= '16';
const cairn = await distModule();
try {
  const heap = await distModule('cli/heap.js');
  // Older builds have only the young-generation cap.
  if (heap.applyHeapSettings) heap.applyHeapSettings();
  else heap.capYoungGeneration();
} catch {
  // an older build without it
}
const {
  backup,
  blobKey,
  check,
  ForwardingBackend,
  initRepository,
  LocalBackend,
  openRepositoryIn,
  restore,
  stats,
} = cairn;

function peakRssMiB() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to getrusage
  }
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * A local backend whose listing of `data/` also yields `fake` made-up blob keys: a
 * stand-in for a repository holding that many more blobs, without writing the files.
 */
class PaddedListing extends ForwardingBackend {
  constructor(inner, fake) {
    super(inner);
    this.fake = fake;
  }
  async *list(prefix, options) {
    yield* this.inner.list(prefix, options);
    if (prefix !== 'data/') return;
    for (const id of fakeBlobIds(this.fake)) yield { key: blobKey('data', id), size: 65536 };
  }
}

/**
 * A local repository seen as a remote one: no direct local writes (the chunk pool's
 * shortcut for local directories), so every chunk's presence is asked of the blob store
 * and its inventory, as for S3, where an inventory of millions of blobs is the normal case.
 */
class RemoteLike extends ForwardingBackend {
  directSetup() {
    return undefined;
  }
}

/** Open options for a repository that keeps a blob inventory in `cacheDir`. */
function inventoryOptions(cacheDir) {
  return cacheDir ? { inventory: 'on', cacheDir } : {};
}

async function open(dir, options = {}) {
  return openRepositoryIn(new LocalBackend(dir), options);
}

async function pickSnapshot(r, tag) {
  const refs = await r.snapshots.list(tag ? { tags: [tag] } : {});
  refs.sort((a, b) => String(a.snapshot.time).localeCompare(String(b.snapshot.time)));
  const ref = refs.at(-1);
  if (!ref) throw new Error(`no snapshot${tag ? ` tagged ${tag}` : ''} in ${r.location}`);
  return ref;
}

const steps = {
  async init({ repo, avg, compression }) {
    const r = await initRepository(new LocalBackend(repo), {
      ...(avg ? { chunker: { min: avg / 4, avg, max: avg * 4 } } : {}),
      ...(compression ? { compression } : {}),
    });
    return { id: r.config.id };
  },
  async backup({ repo, src, cache, tag, inventoryDir }) {
    const r = inventoryDir
      ? await openRepositoryIn(
          new RemoteLike(new LocalBackend(repo)),
          inventoryOptions(inventoryDir),
        )
      : await open(repo);
    const t = performance.now();
    const { snapshot } = await backup(r, {
      paths: Array.isArray(src) ? src : [src],
      statCacheDir: cache ?? false,
      ...(tag ? { tags: [tag] } : {}),
    });
    const ms = performance.now() - t;
    const inventory = r.inventory ? { ...r.inventory.stats } : undefined;
    await r.close?.();
    return { ms, summary: snapshot.summary, inventory };
  },
  async restore({ repo, target, tag }) {
    const r = await open(repo);
    const ref = await pickSnapshot(r, tag);
    const t = performance.now();
    const s = await restore(r, ref.id, ref.snapshot, { target });
    return { ms: performance.now() - t, summary: s };
  },
  // The zstd engine this build uses (native or WebAssembly), for the tool's version line.
  async 'zstd-engine'() {
    return cairn.zstdEngine ? await cairn.zstdEngine() : { name: 'wasm', version: '' };
  },
  async stats({ repo }) {
    return stats(await open(repo));
  },
  // Fills the blob inventory of `repo` (in `inventoryDir`) from one listing that also
  // holds `fake` made-up data blobs: a repository of that many blobs, as backup sees it.
  async 'fill-inventory'({ repo, inventoryDir, fake }) {
    const backend = new PaddedListing(new LocalBackend(repo), fake);
    const r = await openRepositoryIn(backend, inventoryOptions(inventoryDir));
    const t = performance.now();
    const filled = await r.inventory.fill(backend);
    const ms = performance.now() - t;
    await r.close?.();
    return { ms, blobs: filled.blobs };
  },
  // Compacts every inventory database under `inventoryDir` fully, so a simulated
  // repository is measured in its steady state, not while LevelDB still compacts the
  // tables of the fill (which it does in the background of the next process that opens it).
  async 'compact-inventory'({ inventoryDir }) {
    const { Level } = await import('level');
    const t = performance.now();
    for (const name of readdirSync(inventoryDir)) {
      const db = new Level(join(inventoryDir, name));
      await db.open();
      await db.compactRange('\u0000', '\uffff');
      await db.close();
    }
    return { ms: performance.now() - t };
  },
  // `check` (structure only) of `repo` as if its data/ listing held `fake` more blobs.
  async check({ repo, fake = 0, readData = false }) {
    const backend = fake > 0 ? new PaddedListing(new LocalBackend(repo), fake) : undefined;
    const r = backend ? await openRepositoryIn(backend) : await open(repo);
    const t = performance.now();
    const report = await check(r, { readData });
    return {
      ms: performance.now() - t,
      problems: report.problems.length,
      dataBlobs: report.dataBlobs,
      unreferencedBlobs: report.unreferencedBlobs,
    };
  },
};

const [step, argsJson] = process.argv.slice(2);
if (step) {
  const result = await steps[step](JSON.parse(argsJson ?? '{}'));
  // Peak RSS of this process alone. getrusage's maxrss is not: Linux carries it over from
  // the parent through fork and exec, so a large parent would show in every step.
  result.maxRssMiB = peakRssMiB();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
