import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { FormatError } from '../../src/core/errors.js';
import { sha256Hex } from '../../src/core/ids.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { sealBlob } from '../../src/repo/blob-format.js';
import { BlobStore } from '../../src/repo/blob-store.js';
import { ObjectCodec } from '../../src/repo/codec.js';
import { blobKey } from '../../src/repo/layout.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';
import { zstdCompress, zstdDeclaredSize, zstdDecompress, zstdReady } from '../../src/repo/zstd.js';
import { describeTree, pseudoRandomBytes, tempDir, writeTree } from '../helpers/fs.js';
import { TINY_CHUNKS } from '../helpers/repo.js';

const TEXT = Buffer.from(
  Array.from({ length: 2000 }, (_, i) => `line ${i}: the quick brown fox ${i % 17}\n`).join(''),
);

/** An envelope with zstd compression (codec 1) and no encryption around `frame`. */
function zstdEnvelope(frame: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.of(0xca, 1, 1, 0), frame]);
}

/** A copy of `frame` (over 255 bytes) whose header declares `size` (256 or more) instead. */
function withDeclaredSize(frame: Uint8Array, size: number): Buffer {
  const out = Buffer.from(frame);
  const descriptor = out[4]!;
  const fcsBytes = [descriptor & 0x20 ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
  expect(fcsBytes).toBeGreaterThan(0);
  const at = 5 + (descriptor & 0x20 ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]!;
  if (fcsBytes === 2) out.writeUInt16LE(size - 256, at);
  else if (fcsBytes === 4) out.writeUInt32LE(size, at);
  else if (fcsBytes === 8) out.writeBigUInt64LE(BigInt(size), at);
  else out[at] = size;
  return out;
}

describe('compression', () => {
  it('stores compressible blobs zstd-compressed and reads them back', async () => {
    const backend = new MemoryBackend();
    const store = new BlobStore(backend, { codec: new ObjectCodec(undefined, 'auto') });
    const { id, storedBytes } = await store.put('data', TEXT);
    expect(id).toBe(sha256Hex(TEXT));
    expect(storedBytes).toBeLessThan(TEXT.length / 4);
    const stored = await backend.get(blobKey('data', id));
    expect(stored[2]).toBe(1);
    expect(Buffer.from(await new BlobStore(backend).get('data', id))).toEqual(TEXT);
  });

  it('stores incompressible data raw', async () => {
    const backend = new MemoryBackend();
    const store = new BlobStore(backend, { codec: new ObjectCodec(undefined, 'max') });
    const random = pseudoRandomBytes(50_000, 3);
    const { id, storedBytes } = await store.put('data', random);
    expect(storedBytes).toBe(random.length + 4);
    expect((await backend.get(blobKey('data', id)))[2]).toBe(0);
    expect(Buffer.from(await store.get('data', id))).toEqual(random);
  });

  it('auto skips file content that looks random, but not directory pages or max', async () => {
    // Random-looking bytes that repeat: zstd would shrink them 16-fold, the byte
    // entropy cannot tell. Content chunks this short-range repetitive are the price of
    // the guess; directory pages (many copies of one small file) are always tried.
    const repeated = Buffer.concat(Array.from({ length: 16 }, () => pseudoRandomBytes(4096, 9)));
    const codec = (mode: 'auto' | 'max') => new ObjectCodec(undefined, mode);
    const compressionOf = async (c: ObjectCodec, kind: 'content' | 'other') =>
      (await c.seal(repeated, kind))[2];
    expect(await compressionOf(codec('auto'), 'content')).toBe(0);
    expect(await compressionOf(codec('auto'), 'other')).toBe(1);
    expect(await compressionOf(codec('max'), 'content')).toBe(1);
    // Text is compressed as content; the blob store seals data blobs as content.
    expect((await codec('auto').seal(TEXT, 'content'))[2]).toBe(1);
    const backend = new MemoryBackend();
    const store = new BlobStore(backend, { codec: codec('auto') });
    const data = await store.put('data', repeated);
    const tree = await store.put('tree', repeated);
    expect(data.storedBytes).toBe(repeated.length + 4);
    expect(tree.storedBytes).toBeLessThan(repeated.length / 8);
    expect(Buffer.from(await store.get('data', data.id))).toEqual(repeated);
    expect(Buffer.from(await store.get('tree', tree.id))).toEqual(repeated);
  });

  it('compresses into frames that declare their size and decompress', async () => {
    await zstdReady();
    const frame = zstdCompress(TEXT, 3);
    expect(zstdDeclaredSize(frame)).toBe(TEXT.length);
    expect(Buffer.from(zstdDecompress(frame, TEXT.length, 'x'))).toEqual(TEXT);
  });

  it('reads old uncompressed, unencrypted objects (codec 0)', async () => {
    const backend = new MemoryBackend();
    const id = sha256Hex(TEXT);
    await backend.put(blobKey('tree', id), sealBlob(TEXT));
    const store = new BlobStore(backend, { codec: new ObjectCodec(undefined, 'auto') });
    expect(Buffer.from(await store.get('tree', id))).toEqual(TEXT);
  });

  it('round-trips a backup with compression and encryption together', async () => {
    const src = await tempDir();
    await writeTree(src, { 'a.txt': TEXT, 'b.bin': pseudoRandomBytes(30_000, 9) });
    const backend = new MemoryBackend();
    const repo = await initRepository(backend, {
      chunker: { ...TINY_CHUNKS, min: 1024, avg: 4096, max: 16384 },
      compression: 'auto',
      encryption: { password: 'pw', kdfLogN: 10 },
    });
    const r = await backup(repo, { paths: [src], statCacheDir: false });
    let stored = 0;
    for await (const info of backend.list('data/')) stored += info.size;
    expect(stored).toBeLessThan(30_000 + TEXT.length / 2);
    const again = await openRepositoryIn(backend, { password: 'pw' });
    expect(again.config.compression).toBe('auto');
    const target = await tempDir();
    await restore(again, r.snapshotId!, r.snapshot, { target });
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });

  it('rejects a frame declaring more than the limit (decompression bomb)', async () => {
    await zstdReady();
    const codec = new ObjectCodec();
    const zeros = new Uint8Array(4 * 1024 * 1024);
    const frame = zstdCompress(zeros, 3);
    expect(frame.length).toBeLessThan(1024);
    expect(zstdDeclaredSize(frame)).toBe(zeros.length);
    await expect(codec.open(zstdEnvelope(frame), 'data bomb', 1024 * 1024)).rejects.toThrow(
      /declares 4194304 bytes, more than the limit/,
    );
    // Within the limit it decompresses.
    expect((await codec.open(zstdEnvelope(frame), 'data ok')).length).toBe(zeros.length);
  });

  it('rejects frames that lie about their size or do not declare it', async () => {
    await zstdReady();
    const codec = new ObjectCodec();
    const frame = Buffer.from(zstdCompress(TEXT, 3));
    // Shrink the declared size: the decoder must not write past it.
    const lying = withDeclaredSize(frame, 300);
    const err = await codec.open(zstdEnvelope(lying), 'data liar').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    // The decoder stops at the declared size (not only a length check afterwards).
    expect((err as Error).message).toMatch(/data liar.*does not decompress/);
    // Garbage in a compressed envelope.
    await expect(codec.open(zstdEnvelope(Buffer.from('not zstd at all')), 'x')).rejects.toThrow(
      /does not declare/,
    );
  });
});
