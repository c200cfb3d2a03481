import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { pickZstdEngine, zstdDeclaredSize, zstdEngine } from '../../src/repo/zstd.js';
import type { ZstdEngine } from '../../src/repo/zstd-engine.js';
import { loadNativeZstd } from '../../src/repo/zstd-native.js';
import { loadWasmZstd } from '../../src/repo/zstd-wasm.js';
import { pseudoRandomBytes } from '../helpers/fs.js';

const TEXT = Buffer.from(
  Array.from({ length: 3000 }, (_, i) => `row ${i}, value ${(i * 7) % 101}, ok\n`).join(''),
);

/** A copy of `frame` whose 2-byte content-size field (single segment, 256..65791) says `size`. */
function declaring(frame: Uint8Array, size: number): Buffer {
  const out = Buffer.from(frame);
  expect(out[4]! >> 6).toBe(1); // fcs field of 2 bytes, at offset 5 with single segment
  expect(out[4]! & 0x20).toBe(0x20);
  out.writeUInt16LE(size - 256, 5);
  return out;
}

async function engines(): Promise<[ZstdEngine, ZstdEngine]> {
  const native = loadNativeZstd();
  // This machine kind has a compiler, so the optional package is built: a missing native
  // engine here is a broken install, not a fallback to test around.
  if (native instanceof Error) throw native;
  return [native, await loadWasmZstd()];
}

describe('zstd engines', () => {
  it('native and wasm each round-trip at every level used, declaring the size', async () => {
    for (const engine of await engines()) {
      for (const level of [1, 3, 11]) {
        const frame = engine.compress(TEXT, level);
        expect(frame.length, `${engine.name} ${level}`).toBeLessThan(TEXT.length / 4);
        expect(zstdDeclaredSize(frame)).toBe(TEXT.length);
        expect(Buffer.from(engine.decompress(frame, TEXT.length))).toEqual(TEXT);
      }
      // A view into a larger buffer (as chunks are) compresses its own bytes only.
      const view = TEXT.subarray(1000, 61_000);
      const frame = engine.compress(view, 3);
      expect(Buffer.from(engine.decompress(frame, view.length)).equals(view), engine.name).toBe(
        true,
      );
    }
  });

  it('read each other frames (which engine wrote an object is not part of the format)', async () => {
    const [native, wasm] = await engines();
    const data = Buffer.concat([TEXT, pseudoRandomBytes(20_000, 5), TEXT.subarray(0, 5000)]);
    const pairs: Array<[ZstdEngine, ZstdEngine]> = [
      [native, wasm],
      [wasm, native],
    ];
    for (const [writer, reader] of pairs) {
      const frame = writer.compress(data, 3);
      expect(Buffer.from(reader.decompress(frame, data.length)), writer.name).toEqual(data);
    }
  });

  it('return a frame of its own size, not the scratch buffer behind it', async () => {
    const [native] = await engines();
    const first = Buffer.from(native.compress(TEXT, 3));
    const held = native.compress(TEXT, 3);
    native.compress(pseudoRandomBytes(TEXT.length, 1), 3); // reuses the scratch buffer
    expect(Buffer.from(held)).toEqual(first);
    expect(held.buffer.byteLength).toBe(held.length);
    // Past the kept scratch size (8 MiB): its own buffer, and round trips.
    const big = Buffer.concat(Array.from({ length: 200 }, () => TEXT));
    const frame = native.compress(big, 1);
    expect(Buffer.from(native.decompress(frame, big.length)).equals(big)).toBe(true);
  });

  it('fail in the decoder on a frame holding more than it declares', async () => {
    for (const engine of await engines()) {
      const frame = engine.compress(TEXT.subarray(0, 60_000), 3);
      expect(() => engine.decompress(declaring(frame, 1000), 1000), engine.name).toThrow();
      expect(() => engine.decompress(frame.subarray(0, frame.length - 4), 60_000)).toThrow();
    }
  });

  it('the wasm engine keeps one context per thread and writes the package own frames', async () => {
    const wasm = await loadWasmZstd();
    const { compress } = await import('@bokuweb/zstd-wasm');
    for (const level of [3, 11, 3, 1]) {
      expect(Buffer.from(wasm.compress(TEXT, level))).toEqual(Buffer.from(compress(TEXT, level)));
    }
  });

  it('CAIRN_ZSTD picks the engine; unset means native when it is built', async () => {
    expect((await pickZstdEngine('wasm')).name).toBe('wasm');
    expect((await pickZstdEngine('native')).name).toBe('native');
    expect((await pickZstdEngine(undefined)).name).toBe('native');
    expect((await pickZstdEngine('')).name).toBe('native');
    await expect(pickZstdEngine('fast')).rejects.toThrow(UsageError);
    await expect(pickZstdEngine('fast')).rejects.toThrow(/CAIRN_ZSTD must be native, wasm/);
    const { name, version } = await zstdEngine();
    expect(name).toBe(process.env.CAIRN_ZSTD === 'wasm' ? 'wasm' : 'native');
    if (name === 'native') expect(version).toMatch(/^1\.\d+\.\d+$/);
  });
});
