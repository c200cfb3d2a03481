/**
 * The chunk pool stores a file exactly as the chunker and codec say: same cut points,
 * same ids, every new chunk written once and readable, in both of its protocols (ask
 * the store which chunks are new; write into a local repository directly) and on both
 * of its executors (the calling thread, and worker threads from the compiled build).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Backend, PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend, TEMP_PREFIX } from '../../src/backends/local.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { cutPoints } from '../../src/chunker/fastcdc.js';
import { chunkerParams } from '../../src/chunker/params.js';
import { BlobStore } from '../../src/repo/blob-store.js';
import { ChunkPool } from '../../src/repo/chunk-pool.js';
import { ObjectCodec } from '../../src/repo/codec.js';
import { newMasterKeys } from '../../src/repo/crypto.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

const CHUNKER = chunkerParams({ min: 4096, avg: 16_384, max: 65_536 });

type PoolClass = typeof ChunkPool;

/** The compiled pool (npm test builds first): its workers are real threads. */
async function compiledPool(): Promise<PoolClass> {
  // A computed specifier: the type checker must not need the build.
  const compiled = '../../dist/repo/chunk-pool.js';
  const mod = (await import(compiled)) as { ChunkPool: PoolClass };
  return mod.ChunkPool;
}

function expectedRefs(data: Uint8Array, codec: ObjectCodec) {
  return cutPoints(data, CHUNKER).map(({ offset, length }) => ({
    id: codec.idOf(data.subarray(offset, offset + length)),
    size: length,
  }));
}

/**
 * A page as a page builder gives it: `length` bytes at `at` of a buffer of its own of
 * `capacity`; with a copy of its bytes and its id.
 */
function ownPage(codec: ObjectCodec, capacity: number, at: number, length: number, seed: number) {
  const own = Buffer.allocUnsafeSlow(capacity);
  own.set(pseudoRandomBytes(length, seed), at);
  const page = own.subarray(at, at + length);
  return { page, want: Buffer.from(page), id: codec.idOf(page) };
}

/** A remote-like backend whose uploads take a while, reading their bytes at the end. */
class LateUploads extends ForwardingBackend {
  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, 2 + (data[0]! % 5)));
    return this.inner.put(key, data, options);
  }
}

/** Where a direct put runs: on the calling thread while no worker is ready, or on one. */
const PUT_PATHS: [string, boolean][] = [
  ['on the calling thread, while starting', false],
  ['on a ready worker', true],
];

/**
 * Readies the put path: for a worker, stores a file of unknown size first (it starts
 * one, whose "ready" comes before the file's result). Checks the puts that follow it.
 */
async function putPath(pool: ChunkPool, blobs: BlobStore, dir: string, onWorker: boolean) {
  if (onWorker) {
    await writeFile(join(dir, 'warm-up'), pseudoRandomBytes(100_000, 99));
    await pool.storeFile(join(dir, 'warm-up'), blobs);
    expect(pool.threadsStarted).toBe(1);
  }
  onTestFinished(() => {
    if (onWorker) expect(pool.putsRunWhileStarting).toBe(0);
    else expect(pool.putsRunWhileStarting).toBeGreaterThan(0);
  });
}

const codecs: [string, () => ObjectCodec][] = [
  ['plain', () => new ObjectCodec()],
  // Unencrypted, compressed frames are written as zstd returns them; encrypted, sealing
  // copies them.
  ['compressed', () => new ObjectCodec(undefined, 'auto')],
  ['encrypted and compressed', () => new ObjectCodec(newMasterKeys(), 'auto')],
];

const backends: [string, (dir: string) => Backend][] = [
  ['memory (ask which chunks are new)', () => new MemoryBackend()],
  ['local (written directly)', (dir) => new LocalBackend(join(dir, 'repo'))],
];

describe.each([
  ['on the calling thread', 0],
  ['on worker threads', 2],
])('chunk pool %s', (_label, workers) => {
  async function makePool(codec: ObjectCodec, blobs: BlobStore): Promise<ChunkPool> {
    const Pool = workers > 0 ? await compiledPool() : ChunkPool;
    const pool = new Pool(CHUNKER, codec, { workers, direct: blobs.directSetup() });
    expect(pool.workers).toBe(workers);
    return pool;
  }

  describe.each(backends)('%s', (_b, makeBackend) => {
    it.each(codecs)('stores a file chunk for chunk (%s)', async (_c, makeCodec) => {
      const dir = await tempDir();
      const codec = makeCodec();
      const blobs = new BlobStore(makeBackend(dir), { codec });
      const pool = await makePool(codec, blobs);
      try {
        // Random and text-like parts, more than one window (4 MiB); the last part is
        // text whose every chunk differs, so each window holds many distinct frames.
        const data = Buffer.concat([
          pseudoRandomBytes(3 << 20, 1),
          Buffer.from('cairn chunk pool '.repeat(150_000)),
          Buffer.from(
            Array.from({ length: 60_000 }, (_, i) => `line ${i} of ${(i * 7919) % 10007}\n`).join(
              '',
            ),
          ),
        ]);
        await writeFile(join(dir, 'file'), data);
        let bytes = 0;
        const refs = await pool.storeFile(join(dir, 'file'), blobs, {
          onBytes: (n) => {
            bytes += n;
          },
        });
        const expected = expectedRefs(data, codec);
        expect(refs).toEqual(expected);
        expect(bytes).toBe(data.length);
        const unique = new Set(expected.map((r) => r.id));
        expect(blobs.stats.blobsAdded).toBe(unique.size);
        const reader = new BlobStore(blobs.backend, { codec });
        const back = Buffer.concat(await Promise.all(refs.map((r) => reader.get('data', r.id))));
        expect(back.equals(data)).toBe(true);
      } finally {
        await pool.close();
      }
    });

    it('writes a chunk shared by files stored at once only once, and repeats within a window', async () => {
      const dir = await tempDir();
      const codec = new ObjectCodec();
      const blobs = new BlobStore(makeBackend(dir), { codec });
      const pool = await makePool(codec, blobs);
      try {
        // One block repeated: the same chunks many times in one window, and in both files.
        const block = pseudoRandomBytes(64 * 1024, 7);
        const data = Buffer.concat(Array.from({ length: 40 }, () => block));
        await mkdir(join(dir, 'src'));
        const paths = ['a', 'b', 'c'].map((n) => join(dir, 'src', n));
        for (const p of paths) await writeFile(p, data);
        const results = await Promise.all(paths.map((p) => pool.storeFile(p, blobs)));
        const expected = expectedRefs(data, codec);
        for (const r of results) expect(r).toEqual(expected);
        expect(blobs.stats.blobsAdded).toBe(new Set(expected.map((r) => r.id)).size);
        expect(blobs.stats.blobsAdded).toBeLessThan(expected.length);
      } finally {
        await pool.close();
      }
    });

    it('reports read errors with their errno code, and stores nothing for a missing file', async () => {
      const dir = await tempDir();
      const codec = new ObjectCodec();
      const blobs = new BlobStore(makeBackend(dir), { codec });
      const pool = await makePool(codec, blobs);
      try {
        await expect(pool.storeFile(join(dir, 'missing'), blobs)).rejects.toMatchObject({
          code: 'ENOENT',
        });
        await mkdir(join(dir, 'a-directory'));
        await expect(pool.storeFile(join(dir, 'a-directory'), blobs)).rejects.toMatchObject({
          code: 'EISDIR',
        });
        expect(blobs.stats.blobsAdded).toBe(0);
        // The pool still works afterwards.
        await writeFile(join(dir, 'ok'), pseudoRandomBytes(20_000, 3));
        expect((await pool.storeFile(join(dir, 'ok'), blobs)).length).toBeGreaterThan(1);
      } finally {
        await pool.close();
      }
    });

    it.runIf(workers > 0).each(PUT_PATHS)(
      "writes objects directly without touching the caller's buffer (Buffers from the pool too) (%s)",
      async (_path, onWorker) => {
        const dir = await tempDir();
        const codec = new ObjectCodec();
        const blobs = new BlobStore(makeBackend(dir), { codec });
        const pool = await makePool(codec, blobs);
        try {
          if (!pool.canPutDirect) return; // the memory backend cannot be written directly
          await putPath(pool, blobs, dir, onWorker);
          const small = Buffer.from('a small page'); // a view into Node's shared pool
          const large = Buffer.from(pseudoRandomBytes(70_000, 9));
          for (const data of [small, large]) {
            const before = Buffer.from(data);
            const id = codec.idOf(data);
            const r = await pool.putDirect(`data/${id.slice(0, 2)}/${id}`, data);
            expect(r.written).toBe(true);
            expect(data.equals(before)).toBe(true);
            expect(Buffer.from(await blobs.get('data', id)).equals(before)).toBe(true);
          }
        } finally {
          await pool.close();
        }
      },
    );

    it.runIf(workers > 0).each(PUT_PATHS)(
      'moves a movable object to the worker, and writes many at once, each under its name (%s)',
      async (_path, onWorker) => {
        const dir = await tempDir();
        const codec = new ObjectCodec();
        const backend = makeBackend(dir);
        const blobs = new BlobStore(backend, { codec });
        const pool = await makePool(codec, blobs);
        try {
          if (!pool.canPutDirect) return; // the memory backend cannot be written directly
          await putPath(pool, blobs, dir, onWorker);
          // A view into a larger buffer of its own (as a page builder gives): moved whole.
          const { page, want, id } = ownPage(codec, 10_000, 500, 9_000, 11);
          expect((await pool.putDirect(`tree/${id.slice(0, 2)}/${id}`, page, true)).written).toBe(
            true,
          );
          expect(page.length).toBe(0); // moved, not copied
          expect(Buffer.from(await blobs.get('tree', id)).equals(want)).toBe(true);
          // Many at once (tree pages of a walk): all written, and no temporary file is
          // left behind.
          const pages = Array.from({ length: 60 }, (_, i) => pseudoRandomBytes(3000 + i, 100 + i));
          const results = await Promise.all(
            pages.map((p) =>
              pool.putDirect(`tree/${codec.idOf(p).slice(0, 2)}/${codec.idOf(p)}`, p),
            ),
          );
          expect(results.every((r) => r.written)).toBe(true);
          for (const p of pages) {
            expect(Buffer.from(await blobs.get('tree', codec.idOf(p))).equals(p)).toBe(true);
          }
          const files = (await readdir(join(dir, 'repo', 'tree'), { recursive: true })).filter(
            (f) => !/^[0-9a-f]{2}$/.test(f),
          );
          expect(files.filter((f) => f.includes(TEMP_PREFIX))).toEqual([]);
          expect(files).toHaveLength(61);
        } finally {
          await pool.close();
        }
      },
    );

    it.runIf(workers > 0).each(PUT_PATHS)(
      "hands a put's buffer back once written; filling it again leaves the object intact (%s)",
      async (_path, onWorker) => {
        const dir = await tempDir();
        const codec = new ObjectCodec();
        const blobs = new BlobStore(makeBackend(dir), { codec });
        const spares: ArrayBuffer[] = [];
        const Pool = await compiledPool();
        const pool = new Pool(CHUNKER, codec, {
          workers,
          direct: blobs.directSetup(),
          onSpareBuffer: (buffer) => spares.push(buffer),
        });
        try {
          if (!pool.canPutDirect) return; // the memory backend cannot be written directly
          await putPath(pool, blobs, dir, onWorker);
          const { page, want, id } = ownPage(codec, 300_000, 1000, 250_000, 12);
          const key = `tree/${id.slice(0, 2)}/${id}`;
          expect((await pool.putDirect(key, page, true)).written).toBe(true);
          // The same memory comes back whole, and is filled with something else.
          await expect.poll(() => spares.length).toBe(1);
          expect(spares[0]!.byteLength).toBe(300_000);
          new Uint8Array(spares[0]!).fill(0xee);
          expect(Buffer.from(await blobs.get('tree', id)).equals(want)).toBe(true);
          // An object already stored gives its buffer back too.
          const again = Buffer.from(want);
          expect((await pool.putDirect(key, again, true)).written).toBe(false);
          await expect.poll(() => spares.length).toBe(2);
          expect(Buffer.from(await blobs.get('tree', id)).equals(want)).toBe(true);
        } finally {
          await pool.close();
        }
      },
    );

    it.runIf(workers > 0).each(PUT_PATHS)(
      'seals direct puts of data blobs as file content (auto skips random-looking ones) (%s)',
      async (_path, onWorker) => {
        const dir = await tempDir();
        const codec = new ObjectCodec(undefined, 'auto');
        const backend = makeBackend(dir);
        const blobs = new BlobStore(backend, { codec });
        const pool = await makePool(codec, blobs);
        try {
          if (!pool.canPutDirect) return; // the memory backend cannot be written directly
          await putPath(pool, blobs, dir, onWorker);
          // Random-looking bytes that repeat: zstd shrinks them, the entropy guess skips them.
          const repeated = Buffer.concat(
            Array.from({ length: 8 }, () => pseudoRandomBytes(4096, 5)),
          );
          const id = codec.idOf(repeated);
          const codecByte = async (kind: 'data' | 'tree') => {
            const key = `${kind}/${id.slice(0, 2)}/${id}`;
            expect((await pool.putDirect(key, repeated)).written).toBe(true);
            return (await backend.get(key))[2];
          };
          expect(await codecByte('data')).toBe(0);
          expect(await codecByte('tree')).toBe(1);
        } finally {
          await pool.close();
        }
      },
    );

    it.runIf(workers > 0)(
      'runs the first small files on the calling thread, and hands over to workers once they are ready',
      async () => {
        const dir = await tempDir();
        const codec = new ObjectCodec();
        const blobs = new BlobStore(makeBackend(dir), { codec });
        const Pool = await compiledPool();
        const { CALLING_THREAD_BUDGET, STARTUP_FILE_MAX } = (await import(
          '../../dist/repo/chunk-pool.js' as string
        )) as { CALLING_THREAD_BUDGET: number; STARTUP_FILE_MAX: number };
        const pool = new Pool(CHUNKER, codec, { workers, direct: blobs.directSetup() });
        try {
          const mib = pseudoRandomBytes(1 << 20, 21);
          await writeFile(join(dir, 'small'), mib);
          const store = async (name: string, size?: number) => {
            const refs = await pool.storeFile(join(dir, name), blobs, size ? { size } : {});
            return refs.reduce((n, r) => n + r.size, 0);
          };
          // Small work stays on this thread: no worker starts (it would take longer
          // to load than the work takes).
          expect(await store('small', mib.length)).toBe(mib.length);
          expect(pool.filesRunWhileStarting).toBe(1);
          expect(pool.threadsStarted).toBe(0);
          // A file of unknown size needs a worker.
          expect(await store('small')).toBe(mib.length);
          expect(pool.filesRunWhileStarting).toBe(1);
          expect(pool.threadsStarted).toBe(1);
          await pool.close();

          // Past the budget, a worker starts; small files run here until it is ready,
          // then go to it.
          const second = new Pool(CHUNKER, codec, { workers, direct: blobs.directSetup() });
          const files = Math.ceil(CALLING_THREAD_BUDGET / mib.length) + 1;
          // Distinct files (read back below), so each stores new chunks.
          const contents = Array.from({ length: 8 }, (_, i) => pseudoRandomBytes(1 << 20, 40 + i));
          for (const [i, c] of contents.entries()) await writeFile(join(dir, `f${i}`), c);
          let handedOver = false;
          const deadline = Date.now() + 30_000;
          for (let i = 0; !handedOver && (i < files || Date.now() < deadline); i++) {
            // A turn of the event loop between files, as a walk's I/O gives: the
            // worker's "ready" arrives as a message.
            await new Promise((resolve) => setImmediate(resolve));
            const before = second.filesRunWhileStarting;
            const content = contents[i % contents.length]!;
            const refs = await second.storeFile(join(dir, `f${i % contents.length}`), blobs, {
              size: content.length,
            });
            const back = await Promise.all(refs.map((r) => blobs.get('data', r.id)));
            expect(Buffer.concat(back).equals(content)).toBe(true);
            if (i < files) expect(second.filesRunWhileStarting).toBe(before + 1);
            else handedOver = second.filesRunWhileStarting === before;
          }
          expect(second.threadsStarted).toBe(1);
          expect(handedOver).toBe(true);
          await second.close();

          // A file too large for this thread starts a worker at once.
          const large = Buffer.concat([mib, pseudoRandomBytes(STARTUP_FILE_MAX, 22)]);
          await writeFile(join(dir, 'large'), large);
          const third = new Pool(CHUNKER, codec, { workers, direct: blobs.directSetup() });
          expect(
            (await third.storeFile(join(dir, 'large'), blobs, { size: large.length })).length,
          ).toBeGreaterThan(1);
          expect(third.filesRunWhileStarting).toBe(0);
          expect(third.threadsStarted).toBe(1);
          await third.close();
        } finally {
          await pool.close();
        }
      },
    );

    it('stops when aborted', async () => {
      const dir = await tempDir();
      const codec = new ObjectCodec();
      const blobs = new BlobStore(makeBackend(dir), { codec });
      const pool = await makePool(codec, blobs);
      try {
        await writeFile(join(dir, 'file'), pseudoRandomBytes(1 << 20, 4));
        const controller = new AbortController();
        controller.abort();
        await expect(
          pool.storeFile(join(dir, 'file'), blobs, { signal: controller.signal }),
        ).rejects.toMatchObject({ code: 'aborted' });
      } finally {
        await pool.close();
      }
    });
  });

  it('stores files whose uploads finish late, several files at once', async () => {
    // Sealed chunks travel in slabs that go back to the thread for later windows
    // (chunk-serve.ts): uploads still holding theirs must see their own bytes.
    const dir = await tempDir();
    const codec = new ObjectCodec(newMasterKeys(), 'auto');
    const blobs = new BlobStore(new LateUploads(new MemoryBackend()), { codec });
    const pool = await makePool(codec, blobs);
    try {
      const files = [0, 1, 2].map((i) =>
        Buffer.concat([
          pseudoRandomBytes(5 << 20, 20 + i),
          Buffer.from(`text of file ${i} `.repeat(200_000)),
        ]),
      );
      await Promise.all(files.map((data, i) => writeFile(join(dir, `file${i}`), data)));
      const refs = await Promise.all(
        files.map((_d, i) => pool.storeFile(join(dir, `file${i}`), blobs)),
      );
      const reader = new BlobStore(blobs.backend, { codec });
      for (const [i, data] of files.entries()) {
        expect(refs[i]).toEqual(expectedRefs(data, codec));
        const back = Buffer.concat(
          await Promise.all(refs[i]!.map((r) => reader.get('data', r.id))),
        );
        expect(back.equals(data)).toBe(true);
      }
    } finally {
      await pool.close();
    }
  });
});
