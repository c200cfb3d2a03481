/**
 * Restore's worker pool (src/ops/restore-pool.ts, restore-jobs.ts): small files written
 * in batches and chunked files rebuilt from a local repository, every object verified
 * before a byte of it is written, failures named. The jobs are tested on the calling
 * thread (`workers: 0`); `restore` with real worker threads needs the compiled build
 * (`npm test` builds first; `CAIRN_DIST` may name another build).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { hasCode } from '../../src/core/errors.js';
import { RestorePool } from '../../src/ops/restore-pool.js';
import { BlobStore } from '../../src/repo/blob-store.js';
import { ObjectCodec } from '../../src/repo/codec.js';
import { codecSetup } from '../../src/repo/codec-setup.js';
import { newMasterKeys } from '../../src/repo/crypto.js';
import { blobKey } from '../../src/repo/layout.js';
import { compiledModules } from '../helpers/compiled.js';
import {
  describeTree,
  pseudoRandomBytes,
  setMtime,
  tempDir,
  tempsBelow,
  writeTree,
} from '../helpers/fs.js';

/** A local repository's blob store, with a pool on the calling thread reading it. */
async function setup(codec = new ObjectCodec()) {
  const root = join(await tempDir('cairn-repo-'), 'repo');
  const backend = new LocalBackend(root, { fsync: false });
  const blobs = new BlobStore(backend, { codec });
  const pool = new RestorePool({ root, ...codecSetup(codec) }, 0);
  const target = await tempDir();
  return { root, backend, blobs, pool, target };
}

const fileMeta = { mode: 0o640, uid: 0, gid: 0, mtime: { sec: 1_500_000_000, nsec: 250_000_000 } };

describe('restore pool jobs', () => {
  it('writes a batch of small files with content, mode and mtime; failures by index', async () => {
    const { pool, target } = await setup();
    await mkdir(join(target, 'taken'));
    await writeFile(join(target, 'taken', 'x'), 'a directory is in the way');
    const files = [
      { name: 'a.txt', inline: Buffer.from('alpha'), ...fileMeta },
      { name: 'empty', ...fileMeta, mode: 0o600 },
      { name: 'taken', inline: Buffer.from('cannot replace a directory'), ...fileMeta },
      { name: 'c.bin', inline: pseudoRandomBytes(9000, 3), ...fileMeta, mode: 0o755 },
    ];
    const failed = await pool.smallFiles(target, undefined, files);
    expect(failed.map((f) => f.index)).toEqual([2]);
    expect(readFileSync(join(target, 'a.txt'), 'utf8')).toBe('alpha');
    expect(readFileSync(join(target, 'empty')).length).toBe(0);
    expect(readFileSync(join(target, 'c.bin')).equals(pseudoRandomBytes(9000, 3))).toBe(true);
    const st = await stat(join(target, 'c.bin'));
    expect(st.mode & 0o7777).toBe(0o755);
    expect(st.mtimeMs).toBe(1_500_000_000_250);
    expect((await stat(join(target, 'empty'))).mode & 0o7777).toBe(0o600);
    expect(await tempsBelow(target)).toEqual([]);
    await pool.close();
  });

  it.each([
    ['plain', () => new ObjectCodec()],
    ['encrypted and compressed', () => new ObjectCodec(newMasterKeys(), 'auto')],
  ])('rebuilds a chunked file with holes, verified (%s)', async (_label, makeCodec) => {
    const { blobs, pool, target } = await setup(makeCodec());
    const parts = [
      pseudoRandomBytes(300_000, 1),
      new Uint8Array(200_000),
      Buffer.from('text that compresses '.repeat(20_000)),
      new Uint8Array(200_000),
      pseudoRandomBytes(1_500_000, 2),
      new Uint8Array(100_000),
      // Larger than the read buffer (4 MiB), then more than it has left.
      pseudoRandomBytes(4_500_000, 8),
      pseudoRandomBytes(900_000, 11),
      pseudoRandomBytes(900_000, 12),
      pseudoRandomBytes(900_000, 13),
    ];
    const ids: string[] = [];
    for (const p of parts) ids.push((await blobs.put('data', p)).id);
    const size = parts.reduce((n, p) => n + p.length, 0);
    const progress: number[] = [];
    const done = await pool.file(
      { dir: target, name: 'big', size, ...fileMeta, ids, sizes: parts.map((p) => p.length) },
      (bytes) => progress.push(bytes),
    );
    // equals, not toEqual: a deep comparison of megabytes takes tens of seconds.
    expect(readFileSync(join(target, 'big')).equals(Buffer.concat(parts))).toBe(true);
    // The second zero chunk is the first one again: a hole, not read a second time.
    expect(done).toEqual({ fetched: size - 200_000, reused: 200_000 });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBeLessThanOrEqual(size);
    const st = await stat(join(target, 'big'));
    expect(st.size).toBe(size);
    expect(st.mode & 0o7777).toBe(0o640);
    expect(st.mtimeMs).toBe(1_500_000_000_250);
    // Holes: fewer blocks than the size needs.
    expect(st.blocks * 512).toBeLessThan(size);
    expect(await tempsBelow(target)).toEqual([]);
    await pool.close();
  });

  it('fills a buffer an earlier batch handed back, writing only the new batch into each file', async () => {
    const { pool, target } = await setup();
    const first = [
      { name: 'long', inline: pseudoRandomBytes(50_000, 5), ...fileMeta },
      { name: 'tail', inline: pseudoRandomBytes(7000, 6), ...fileMeta },
    ];
    expect(await pool.smallFiles(target, undefined, first)).toEqual([]);
    expect(pool.batchBuffersReused).toBe(0);
    // Shorter content in the same buffer: nothing of the first batch may show through.
    const second = [
      { name: 'short', inline: Buffer.from('x'), ...fileMeta },
      { name: 'none', ...fileMeta },
      { name: 'mid', inline: pseudoRandomBytes(3000, 7), ...fileMeta },
    ];
    expect(await pool.smallFiles(target, undefined, second)).toEqual([]);
    expect(pool.batchBuffersReused).toBe(1);
    expect(readFileSync(join(target, 'long')).equals(pseudoRandomBytes(50_000, 5))).toBe(true);
    expect(readFileSync(join(target, 'tail')).equals(pseudoRandomBytes(7000, 6))).toBe(true);
    expect(readFileSync(join(target, 'short'), 'utf8')).toBe('x');
    expect(readFileSync(join(target, 'none')).length).toBe(0);
    expect(readFileSync(join(target, 'mid')).equals(pseudoRandomBytes(3000, 7))).toBe(true);
    await pool.close();
  });

  it('keeps the written part of a file it was stopped in, under its temporary name', async () => {
    const { blobs, pool, target } = await setup();
    const parts = Array.from({ length: 8 }, (_, i) => pseudoRandomBytes(600_000, 70 + i));
    const ids: string[] = [];
    for (const p of parts) ids.push((await blobs.put('data', p)).id);
    const size = parts.reduce((n, p) => n + p.length, 0);
    const job = {
      dir: target,
      name: 'big',
      size,
      ...fileMeta,
      ids,
      sizes: parts.map((p) => p.length),
    };
    // Stopped (as by Ctrl-C) once the first batch is on disk.
    const err = await pool
      .file(job, (bytes) => {
        if (bytes > 0) pool.abort();
      })
      .catch((e: unknown) => e);
    expect(hasCode(err, 'aborted')).toBe(true);
    const temps = await tempsBelow(target);
    expect(temps).toHaveLength(1);
    const kept = readFileSync(join(target, temps[0]!));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.equals(Buffer.concat(parts).subarray(0, kept.length))).toBe(true);
    expect(existsSync(join(target, 'big'))).toBe(false);
    await pool.close();
  });

  it.each([
    ['compressed', () => new ObjectCodec(undefined, 'auto')],
    ['encrypted and compressed', () => new ObjectCodec(newMasterKeys(), 'auto')],
  ])(
    'rebuilds a file of many compressed chunks, decoded into its read buffer (%s)',
    async (_label, makeCodec) => {
      const { blobs, pool, target } = await setup(makeCodec());
      // Distinct text per chunk, sizes from 40 KB to 1.6 MB: decoded chunks land after the
      // stored bytes in the 4 MiB read buffer when they fit, in a buffer of their own when
      // not; a misplaced one would corrupt another and fail its hash or the comparison.
      const parts = Array.from({ length: 36 }, (_, i) => {
        const size = 40_000 + ((i * 379_417) % 1_600_000);
        const line = `chunk ${i}: ${'lorem ipsum dolor sit amet '.repeat(1 + (i % 5))}\n`;
        const text = Buffer.from(line.repeat(Math.ceil(size / line.length))).subarray(0, size);
        text.write(pseudoRandomBytes(64, i).toString('hex'), size - 200);
        return text;
      });
      const ids: string[] = [];
      for (const p of parts) ids.push((await blobs.put('data', p)).id);
      const size = parts.reduce((n, p) => n + p.length, 0);
      const done = await pool.file({
        dir: target,
        name: 'text',
        size,
        ...fileMeta,
        ids,
        sizes: parts.map((p) => p.length),
      });
      expect(readFileSync(join(target, 'text')).equals(Buffer.concat(parts))).toBe(true);
      expect(done).toEqual({ fetched: size, reused: 0 });
      await pool.close();
    },
  );

  it('refuses a corrupt object: integrity error naming it, nothing left behind', async () => {
    const { backend, blobs, pool, target } = await setup();
    const good = pseudoRandomBytes(50_000, 4);
    const bad = pseudoRandomBytes(50_000, 5);
    const goodId = (await blobs.put('data', good)).id;
    const badId = (await blobs.put('data', bad)).id;
    // Same length, other content: only the hash can tell.
    const file = backend.pathOf(blobKey('data', badId));
    const stored = readFileSync(file);
    stored[100] = stored[100]! ^ 1;
    writeFileSync(file, stored);
    const err = await pool
      .file({
        dir: target,
        name: 'f',
        size: 100_000,
        ...fileMeta,
        ids: [goodId, badId],
        sizes: [50_000, 50_000],
      })
      .catch((e: unknown) => e);
    expect(hasCode(err, 'integrity')).toBe(true);
    expect((err as Error).message).toContain(badId);
    expect(existsSync(join(target, 'f'))).toBe(false);
    expect(await tempsBelow(target)).toEqual([]);
    await pool.close();
  });

  it('reports a missing object as not found, naming it; a size mismatch as integrity', async () => {
    const { blobs, pool, target } = await setup();
    const id = (await blobs.put('data', pseudoRandomBytes(1000, 6))).id;
    const missing = 'ab'.repeat(32);
    const err = await pool
      .file({ dir: target, name: 'f', size: 1000, ...fileMeta, ids: [missing], sizes: [1000] })
      .catch((e: unknown) => e);
    expect(hasCode(err, 'not-found')).toBe(true);
    expect((err as Error).message).toContain(missing);
    const short = await pool
      .file({ dir: target, name: 'g', size: 999, ...fileMeta, ids: [id], sizes: [999] })
      .catch((e: unknown) => e);
    expect(hasCode(short, 'integrity')).toBe(true);
    expect(await readdir(target)).toEqual([]);
    await pool.close();
  });

  it('stops at the next file once aborted', async () => {
    const { blobs, pool, target } = await setup();
    const id = (await blobs.put('data', pseudoRandomBytes(1000, 7))).id;
    pool.abort();
    const err = await pool
      .file({ dir: target, name: 'f', size: 1000, ...fileMeta, ids: [id], sizes: [1000] })
      .catch((e: unknown) => e);
    expect(hasCode(err, 'aborted')).toBe(true);
    const small = await pool
      .smallFiles(target, undefined, [{ name: 's', inline: Buffer.from('x'), ...fileMeta }])
      .catch((e: unknown) => e);
    expect(hasCode(small, 'aborted')).toBe(true);
    expect(await readdir(target)).toEqual([]);
    await pool.close();
  });
});

type Cairn = typeof import('../../src/index.js') & typeof import('../../src/ops/restore-pool.js');

/** The compiled library (its restore runs real worker threads). */
const compiled = () => compiledModules<Cairn>('ops/restore-pool.js');

describe('restore on worker threads (compiled build)', () => {
  it('restores many small files and large ones exactly, and reports a corrupt chunk by path', async () => {
    const cairn = await compiled();
    expect(cairn.restoreWorkers(2)).toBe(2);
    const repoDir = await tempDir('cairn-repo-');
    const repo = await cairn.initRepository(new cairn.LocalBackend(repoDir, { fsync: false }), {
      chunker: { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024, level: 1 },
      inlineMax: 4096,
    });
    const src = await tempDir();
    const spec: Record<string, Record<string, string | Uint8Array>> = {};
    for (let d = 0; d < 4; d++) {
      const dir: Record<string, string | Uint8Array> = {};
      for (let f = 0; f < 150; f++) dir[`f${f}`] = pseudoRandomBytes((f * 37) % 4000, d * 1000 + f);
      spec[`d${d}`] = dir;
    }
    await writeTree(src, {
      ...spec,
      big: { 'random.bin': pseudoRandomBytes(6 << 20, 9), 'zeros.bin': new Uint8Array(1 << 20) },
      'mid.bin': pseudoRandomBytes(300_000, 10),
      // More work than the pool does on the calling thread: its workers start.
      // (Not zeros: a file with a chunk already restored here is rebuilt on this thread.)
      zz: { 'large.bin': pseudoRandomBytes(cairn.CALLING_THREAD_BUDGET, 11) },
    });
    await setMtime(join(src, 'mid.bin'), 1_400_000_000);
    const { snapshotId, snapshot } = await cairn.backup(repo, {
      paths: [src],
      statCacheDir: false,
    });

    // Count the jobs given to the pool (the compiled restore uses this very class).
    const jobs = { small: 0, file: 0 };
    const pools = new Set<InstanceType<Cairn['RestorePool']>>();
    const proto = cairn.RestorePool.prototype;
    const { smallFiles, file } = proto;
    proto.smallFiles = function (this: typeof proto, ...args: Parameters<typeof smallFiles>) {
      jobs.small++;
      pools.add(this);
      return smallFiles.apply(this, args);
    };
    proto.file = function (this: typeof proto, ...args: Parameters<typeof file>) {
      jobs.file++;
      pools.add(this);
      return file.apply(this, args);
    };
    const target = join(await tempDir(), 'new');
    const events: string[] = [];
    const s = await cairn.restore(repo, snapshotId!, snapshot, {
      target,
      workers: 2,
      onEvent: (e) => events.push(e.type),
    });
    expect(s.errors).toBe(0);
    expect(s.files).toBe(604);
    expect(s.bytesFetched).toBeGreaterThan(6 << 20);
    expect(await describeTree(target)).toEqual(await describeTree(src));
    expect(await tempsBelow(target)).toEqual([]);
    expect(events.at(-1)).toBe('progress');
    // The first 256 small files are written on this thread, the rest by the pool: on
    // this thread too until its budget is spent, then on both workers.
    expect(jobs.small).toBeGreaterThan(0);
    expect(jobs.file).toBeGreaterThan(0);
    const [pool] = [...pools];
    expect(pools.size).toBe(1);
    expect(pool!.threadsStarted).toBe(2);
    expect(pool!.jobsRunWhileStarting).toBeLessThan(jobs.small + jobs.file);
    proto.smallFiles = smallFiles;
    proto.file = file;

    // A corrupt chunk of the large file: a warning naming the file, no file there.
    const random = readFileSync(join(src, 'big', 'random.bin'));
    const blobsDir = join(repoDir, 'data');
    let corrupted = 0;
    for (const shard of await readdir(blobsDir)) {
      for (const name of await readdir(join(blobsDir, shard))) {
        const file = join(blobsDir, shard, name);
        const data = readFileSync(file);
        // The first chunk of random.bin starts with its first bytes (after the 4-byte header).
        if (data.subarray(4, 64).equals(random.subarray(0, 60))) {
          data[5000] = data[5000]! ^ 0xff;
          writeFileSync(file, data);
          corrupted++;
        }
      }
    }
    expect(corrupted).toBe(1);
    const again = join(await tempDir(), 'again');
    const warnings: { path: string; code: string }[] = [];
    const s2 = await cairn.restore(repo, snapshotId!, snapshot, {
      target: again,
      workers: 2,
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push({ path: e.path, code: e.code });
      },
    });
    expect(s2.errors).toBe(1);
    expect(warnings).toEqual([{ path: join(again, 'big', 'random.bin'), code: 'integrity' }]);
    expect(existsSync(join(again, 'big', 'random.bin'))).toBe(false);
    expect(readFileSync(join(again, 'mid.bin')).equals(readFileSync(join(src, 'mid.bin')))).toBe(
      true,
    );
    expect(await tempsBelow(again)).toEqual([]);
  });

  it('runs the first jobs on the calling thread, and starts workers only past its budget', async () => {
    const cairn = await compiled();
    const root = join(await tempDir('cairn-repo-'), 'repo');
    const codec = new ObjectCodec();
    const blobs = new BlobStore(new LocalBackend(root, { fsync: false }), { codec });
    const content = pseudoRandomBytes(3 << 20, 31);
    const { id } = await blobs.put('data', content);
    const target = await tempDir();
    const pool = new cairn.RestorePool({ root, ...codecSetup(codec) }, 2);
    const restoreOne = (name: string) =>
      pool.file({
        dir: target,
        name,
        size: content.length,
        ...fileMeta,
        ids: [id],
        sizes: [content.length],
      });
    try {
      // A small restore: everything on this thread, no worker started.
      const small = Math.floor(cairn.CALLING_THREAD_BUDGET / (content.length + (64 << 10)));
      for (let i = 0; i < small; i++) await restoreOne(`here-${i}`);
      expect(pool.jobsRunWhileStarting).toBe(small);
      expect(pool.threadsStarted).toBe(0);
      // Past the budget: the workers start and take this job and the later ones.
      await Promise.all([restoreOne('there-0'), restoreOne('there-1')]);
      expect(pool.threadsStarted).toBe(2);
      expect(pool.jobsRunWhileStarting).toBe(small);
      for (const name of (await readdir(target)).sort()) {
        expect(readFileSync(join(target, name)).equals(content)).toBe(true);
      }
      expect(await readdir(target)).toHaveLength(small + 2);
    } finally {
      await pool.close();
    }
  });

  it('gets the buffers of small-file batches back from the workers and fills them again', async () => {
    const cairn = await compiled();
    const root = join(await tempDir('cairn-repo-'), 'repo');
    const target = await tempDir();
    const pool = new cairn.RestorePool({ root, ...codecSetup(new ObjectCodec()) }, 2);
    const content = (d: number, f: number) =>
      pseudoRandomBytes(((d * 7 + f) * 997) % 9000, d * 100 + f);
    try {
      // A first round past the calling thread's budget (about 15 such batches), then
      // rounds of 8 (the spares kept): those after the second find only buffers that
      // came back from the workers, since every batch past the budget runs there.
      const rounds = [20, 8, 8, 8];
      const dirs = Array.from({ length: 44 }, (_, d) => `d${d}`);
      for (const d of dirs) await mkdir(join(target, d));
      let at = 0;
      for (const count of rounds) {
        const first = at;
        await Promise.all(
          dirs.slice(first, first + count).map((d, i) => {
            const files = Array.from({ length: 30 }, (_, f) => ({
              name: `f${f}`,
              inline: content(first + i, f),
              ...fileMeta,
            }));
            return pool.smallFiles(join(target, d), undefined, files);
          }),
        );
        at += count;
      }
      expect(pool.threadsStarted).toBe(2);
      expect(pool.jobsRunWhileStarting).toBeLessThan(20);
      // 8 in the second round (from any thread), 8 in each later one (from the workers).
      expect(pool.batchBuffersReused).toBe(24);
      for (let d = 0; d < dirs.length; d++) {
        for (let f = 0; f < 30; f++) {
          expect(readFileSync(join(target, `d${d}`, `f${f}`)).equals(content(d, f))).toBe(true);
        }
      }
    } finally {
      await pool.close();
    }
  });

  it('stops the workers when aborted, leaving no temporary files', async () => {
    const cairn = await compiled();
    const repoDir = await tempDir('cairn-repo-');
    const repo = await cairn.initRepository(new cairn.LocalBackend(repoDir, { fsync: false }), {
      chunker: { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024, level: 1 },
    });
    const src = await tempDir();
    const big: Record<string, Uint8Array> = {};
    for (let i = 0; i < 2; i++) big[`f${i}`] = pseudoRandomBytes(5 << 20, 20 + i);
    // Past the pool's budget for the calling thread: the first file starts the workers.
    big.a = new Uint8Array(cairn.CALLING_THREAD_BUDGET);
    await writeTree(src, big);
    const { snapshotId, snapshot } = await cairn.backup(repo, {
      paths: [src],
      statCacheDir: false,
    });
    const target = join(await tempDir(), 'aborted');
    const ac = new AbortController();
    // Aborted as soon as the first file is given to a worker (before it can start it).
    const proto = cairn.RestorePool.prototype;
    const { file } = proto;
    let given = 0;
    let threads = 0;
    proto.file = function (this: typeof proto, ...args: Parameters<typeof file>) {
      const p = file.apply(this, args);
      given++;
      threads = this.threadsStarted;
      ac.abort();
      return p;
    };
    const err = await cairn
      .restore(repo, snapshotId!, snapshot, { target, workers: 2, signal: ac.signal })
      .catch((e: unknown) => e)
      .finally(() => {
        proto.file = file;
      });
    expect(given).toBeGreaterThan(0);
    expect(threads).toBe(2);
    // The compiled build's error classes are not this test's: compare the code.
    expect((err as { code?: string }).code).toBe('aborted');
    expect(await tempsBelow(target)).toEqual([]);
    // What is there is complete.
    for (const name of await readdir(target)) {
      expect(readFileSync(join(target, name)).equals(big[name]!)).toBe(true);
    }
  });
});
