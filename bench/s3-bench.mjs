// S3 throughput: backup into S3 and sync local -> S3 on a throwaway Ceph RGW on loopback
// (scripts/rgw-up.sh / rgw-down.sh), through the same wrappers the CLI uses (retries,
// transfers + checkers in flight). Needs the Debian packages radosgw, ceph-mon, ceph-osd.
// Env: BENCH_S3_MB (corpus size, default 256), BENCH_S3_TRANSFERS (default 8).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeLargeCorpus } from './corpus.mjs';
import { distModule } from './dist.mjs';

const { S3Backend } = await distModule('backends/s3.js');
const {
  backup,
  CountingBackend,
  initRepository,
  LimitBackend,
  LocalBackend,
  paramsOf,
  RetryBackend,
  sync,
} = await distModule();

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../scripts/', import.meta.url));
const MiB = 1048576;

/** Starts RGW, runs the measurements, stops RGW. Resolves rows of [what, value, notes]. */
export async function benchS3(options = {}) {
  const sizeMiB = options.sizeMiB ?? Number(process.env.BENCH_S3_MB ?? 256);
  const transfers = options.transfers ?? Number(process.env.BENCH_S3_TRANSFERS ?? 8);
  const checkers = 16;
  const root = options.root ?? join(process.cwd(), '.bench');
  const corpus = join(root, `s3-corpus-${sizeMiB}`);
  if (!existsSync(corpus)) await writeLargeCorpus(corpus, sizeMiB * MiB, 64);

  const state = await mkdtemp(join(tmpdir(), 'cairn-bench-rgw-'));
  const work = await mkdtemp(join(tmpdir(), 'cairn-bench-s3-'));
  const rows = [];
  try {
    const started = performance.now();
    const { stdout } = await run(join(SCRIPTS, 'rgw-up.sh'), [state], {
      timeout: 180_000,
      // Two copies of the corpus live in the in-memory OSD, plus headroom.
      env: { ...process.env, MEMSTORE_BYTES: String(Math.max(1024, sizeMiB * 4) * MiB) },
    });
    const env = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=', 2)),
    );
    rows.push([
      'RGW start (loopback, memstore)',
      `${((performance.now() - started) / 1000).toFixed(1)} s`,
      env.S3_ENDPOINT,
    ]);
    const bucket = `bench-${Date.now().toString(36)}`;
    const open = (prefix) => {
      const base = S3Backend.fromUrl(`s3:${env.S3_ENDPOINT}/${bucket}/${prefix}`, {
        credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY },
        region: env.S3_REGION,
      });
      const counting = new CountingBackend(base);
      const wrapped = new RetryBackend(
        new LimitBackend(counting, { concurrency: transfers + checkers }),
      );
      return { base, counting, wrapped };
    };
    const admin = open('');
    await admin.base.ensureBucket();
    await admin.base.close();

    // 1. backup straight into S3
    const a = open('backup');
    const repoA = await initRepository(a.wrapped, {}, { cacheDir: join(work, 'cache-a') });
    a.counting.reset();
    let t = performance.now();
    const b = await backup(repoA, { paths: [corpus], statCacheDir: false });
    let ms = performance.now() - t;
    rows.push([
      `backup into S3 (${sizeMiB} MiB, fresh)`,
      `${(b.snapshot.summary.bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`,
      `${(ms / 1000).toFixed(2)} s, ${reqs(a.counting.counts)} requests, ${((reqs(a.counting.counts) * 1000) / ms).toFixed(0)} req/s`,
    ]);
    a.counting.reset();
    t = performance.now();
    await backup(repoA, { paths: [corpus], statCacheDir: false });
    ms = performance.now() - t;
    rows.push([
      'backup into S3 again (all chunks known)',
      `${(b.snapshot.summary.bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`,
      `${(ms / 1000).toFixed(2)} s, ${reqs(a.counting.counts)} requests (${a.counting.counts.stat} HEAD)`,
    ]);
    await repoA.close();

    // 2. sync local -> S3: a local repository holding the corpus, copied to a new prefix
    const local = await initRepository(new LocalBackend(join(work, 'local')), {});
    await backup(local, { paths: [corpus], statCacheDir: false });
    const c = open('sync');
    const repoC = await initRepository(c.wrapped, paramsOf(local.config), {
      cacheDir: join(work, 'cache-c'),
    });
    c.counting.reset();
    t = performance.now();
    const s = await sync(local, repoC, { transfers, checkers });
    ms = performance.now() - t;
    rows.push([
      `sync local -> S3 (${sizeMiB} MiB, ${transfers} transfers)`,
      `${(s.bytesSent / MiB / (ms / 1000)).toFixed(0)} MiB/s`,
      `${(ms / 1000).toFixed(2)} s, ${s.blobsSent} blobs, ${s.requests.destination.put} PUT, ${((s.requests.total * 1000) / ms).toFixed(0)} req/s`,
    ]);
    t = performance.now();
    const again = await sync(local, repoC, { transfers, checkers });
    ms = performance.now() - t;
    rows.push([
      'sync local -> S3 again (nothing to send)',
      `${(ms / 1000).toFixed(2)} s`,
      `${again.blobsSent} blobs sent, ${again.requests.total} requests`,
    ]);
    await repoC.close();
    await local.close();
  } finally {
    await run(join(SCRIPTS, 'rgw-down.sh'), [state]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
  return rows;
}

function reqs(c) {
  return c.get + c.put + c.stat + c.list + c.delete;
}

// `node bench/s3-bench.mjs` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [what, value, notes] of await benchS3()) {
    console.log(`${what.padEnd(48)} ${String(value).padStart(14)}  ${notes}`);
  }
}
