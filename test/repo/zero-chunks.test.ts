/**
 * All-zero chunks and sparse files in the data path: the codec hashes each length of
 * zeros once (repo/codec.ts), and a sparse file is read around the page cache
 * (core/source-open.ts `openSparseTwin`) yet cut into the very chunks its dense copy
 * gives.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastCDC } from '../../src/chunker/fastcdc.js';
import { chunkerParams } from '../../src/chunker/params.js';
import { closeSparseTwin, openSparseTwin } from '../../src/core/source-open.js';
import { runChunkJob, type WindowIds } from '../../src/repo/chunk-job.js';
import { ObjectCodec, PLAIN_CODEC } from '../../src/repo/codec.js';
import { keyedId, newMasterKeys } from '../../src/repo/crypto.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const MiB = 1024 * 1024;
const CDC = new FastCDC(chunkerParams({ min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 }));

describe('ids of all-zero chunks', () => {
  it('are the hashes of the zeros, for every length and again from the memo', () => {
    const codec = new ObjectCodec();
    for (const n of [4096, 65536, 262144, 262144, 100_003, 65536]) {
      expect(codec.idOf(new Uint8Array(n))).toBe(sha256(new Uint8Array(n)));
    }
    // A view into a larger buffer, and data that is zero but for its last byte.
    const big = new Uint8Array(300_000);
    expect(codec.idOf(big.subarray(1000, 1000 + 65536))).toBe(sha256(new Uint8Array(65536)));
    const almost = new Uint8Array(65536);
    almost[65535] = 1;
    expect(codec.idOf(almost)).toBe(sha256(almost));
    expect(codec.idOf(new Uint8Array(65536))).toBe(sha256(new Uint8Array(65536)));
  });

  it('are keyed in an encrypted repository, per repository', () => {
    const [a, b] = [newMasterKeys(), newMasterKeys()];
    const zeros = new Uint8Array(262144);
    const ca = new ObjectCodec(a);
    const cb = new ObjectCodec(b);
    for (let i = 0; i < 2; i++) {
      expect(ca.idOf(zeros)).toBe(keyedId(a.idKey, zeros));
      expect(cb.idOf(zeros)).toBe(keyedId(b.idKey, zeros));
    }
    expect(ca.idOf(zeros)).not.toBe(cb.idOf(zeros));
  });

  it('keep many lengths apart', () => {
    const codec = new ObjectCodec();
    for (let n = 4096; n < 4096 + 200 * 513; n += 513) {
      expect(codec.idOf(new Uint8Array(n))).toBe(sha256(new Uint8Array(n)));
    }
  });
});

/** Data extents of a file: bytes at offsets, holes between them. */
type Extent = { at: number; bytes: Buffer };

/** Writes a sparse file of `size` bytes holding `extents`, and its dense copy. */
function writeFiles(
  dir: string,
  size: number,
  extents: Extent[],
): { sparse: string; dense: string } {
  const sparse = join(dir, 'sparse.img');
  const fd = openSync(sparse, 'w');
  try {
    ftruncateSync(fd, size);
    for (const e of extents) writeSync(fd, e.bytes, 0, e.bytes.length, e.at);
    fsyncSync(fd); // so that `evict` can drop its pages
  } finally {
    closeSync(fd);
  }
  const content = Buffer.alloc(size);
  for (const e of extents) e.bytes.copy(content, e.at);
  const dense = join(dir, 'dense.img');
  writeFileSync(dense, content);
  return { sparse, dense };
}

/** The chunk ids and sizes a backup's chunk job reports for `path`. */
async function chunksOf(path: string): Promise<{ ids: string[]; sizes: number[]; read: number }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let read = 0;
  await runChunkJob(path, CDC, PLAIN_CODEC, {
    ids: (w: WindowIds) => {
      ids.push(...w.ids);
      sizes.push(...w.sizes);
      read += w.bytesRead;
    },
    need: async () => new Uint8Array(0),
    slab: (bytes) => new Uint8Array(bytes),
    sealed: () => {},
    cancelled: () => false,
  });
  return { ids, sizes, read };
}

/** True when the file system holding `path` takes `O_DIRECT` opens at all. */
function directOpens(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_RDONLY | (constants.O_DIRECT ?? 0)));
    return constants.O_DIRECT !== undefined;
  } catch {
    return false;
  }
}

/** Drops `path`'s pages from the page cache (GNU dd: `iflag=nocache count=0`). */
function evict(path: string): boolean {
  try {
    execFileSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The largest read-ahead of this machine's block devices: a read through the cache may
 * bring that much more of the file in (8 MiB here).
 */
function readAheadBytes(): number {
  let kb = 128;
  try {
    for (const dev of readdirSync('/sys/block')) {
      const value = Number(readFileSync(`/sys/block/${dev}/queue/read_ahead_kb`, 'utf8'));
      if (Number.isFinite(value)) kb = Math.max(kb, value);
    }
  } catch {
    kb = 8192;
  }
  return kb * 1024;
}

/** A window of the chunk job (4 MiB) and a chunk of the largest size. */
const WINDOW = 4 * MiB + 256 * 1024;

/** True when this file system takes uncached reads of `path`'s sparse file. */
function twinOpens(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const twin = openSparseTwin(fd);
    closeSparseTwin(twin);
    return twin !== undefined;
  } finally {
    closeSync(fd);
  }
}

/** Bytes of `path` in the page cache (util-linux `fincore`), or undefined without it. */
function residentBytes(path: string): number | undefined {
  try {
    const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path]);
    return Number(out.toString().trim());
  } catch {
    return undefined;
  }
}

describe('a sparse file', () => {
  it('is read around the page cache and cut into the chunks of its dense copy', async () => {
    const dir = await tempDir();
    const size = 64 * MiB + 4099; // the end is not on a block boundary
    const extents: Extent[] = [
      { at: 3 * MiB + 17, bytes: pseudoRandomBytes(300_000, 1) },
      { at: 11 * MiB + 4095, bytes: pseudoRandomBytes(5 * MiB + 3, 2) },
      { at: size - 70_000, bytes: pseudoRandomBytes(70_000, 3) },
    ];
    const { sparse, dense } = writeFiles(dir, size, extents);
    expect(twinOpens(dense)).toBe(false); // no holes: read as before
    const direct = twinOpens(sparse);
    // Where the file system takes O_DIRECT (this machine's does), the test must exercise
    // that path.
    if (directOpens(sparse) && !process.env.CAIRN_DIRECT_IO) expect(direct).toBe(true);

    const evicted = evict(sparse);
    const fromSparse = await chunksOf(sparse);
    const fromDense = await chunksOf(dense);
    expect(fromSparse.sizes.reduce((a, b) => a + b, 0)).toBe(size);
    expect(fromSparse.read).toBe(size);
    expect(fromSparse).toEqual(fromDense);
    // Zeros cut into chunks of the largest size, all one id.
    const zeroId = sha256(new Uint8Array(256 * 1024));
    expect(fromSparse.ids.filter((id) => id === zeroId).length).toBeGreaterThan(100);

    // Its holes did not become page-cache pages: its 5.4 MiB of data did (read through
    // the cache), and after each of its two data extents at most a window of zeros and
    // the kernel's read-ahead, not the 58.6 MiB of holes.
    const resident = residentBytes(sparse);
    if (direct && evicted && resident !== undefined) {
      expect(resident).toBeLessThan(6 * MiB + 2 * (WINDOW + readAheadBytes()));
      expect(resident).toBeLessThan(size / 2);
    }
  });

  it('is read through the cache where it holds data, and around it where it holds holes', async () => {
    const dir = await tempDir();
    const size = 96 * MiB + 4099;
    const extents: Extent[] = [
      { at: 10 * MiB, bytes: pseudoRandomBytes(20 * MiB, 4) },
      { at: size - 4099, bytes: pseudoRandomBytes(4099, 5) },
    ];
    const { sparse, dense } = writeFiles(dir, size, extents);
    if (!twinOpens(sparse) || !evict(sparse) || residentBytes(sparse) === undefined) return;
    expect(residentBytes(sparse)).toBeLessThan(MiB);
    expect(await chunksOf(sparse)).toEqual(await chunksOf(dense));
    // The data came through the cache (its read-ahead, and the cache a file read again
    // keeps), but for the read that found it, which began in the hole; of the 76 MiB of
    // holes, at most the read that ended the data and the kernel's read-ahead of it and
    // of the read before.
    const resident = residentBytes(sparse)!;
    expect(resident).toBeGreaterThanOrEqual(20 * MiB - WINDOW);
    expect(resident).toBeLessThan(20 * MiB + WINDOW + 2 * readAheadBytes());
    expect(resident).toBeLessThan(size / 2);
  });

  it('is read as before when the twin cannot be opened', () => {
    expect(openSparseTwin(-1)).toBeUndefined();
    expect(openSparseTwin(2 ** 30)).toBeUndefined();
  });

  it('gives the chunks of its dense copy whatever its layout', async () => {
    const dir = await tempDir();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2 * MiB, max: 14 * MiB }),
        fc.array(
          fc.record({
            at: fc.double({ min: 0, max: 1, noNaN: true }),
            length: fc.integer({ min: 1, max: 600_000 }),
            seed: fc.nat(),
          }),
          { maxLength: 5 },
        ),
        async (size, raw) => {
          const extents = raw.map((r) => {
            const at = Math.min(Math.floor(r.at * size), size - 1);
            return { at, bytes: pseudoRandomBytes(Math.min(r.length, size - at), r.seed) };
          });
          const { sparse, dense } = writeFiles(dir, size, extents);
          expect(await chunksOf(sparse)).toEqual(await chunksOf(dense));
        },
      ),
      { numRuns: 15 },
    );
  });
});
