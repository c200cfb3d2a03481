import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ChunkerParams,
  chunkerParams,
  chunkStream,
  cutPoints,
  type StreamChunk,
  StreamChunker,
} from '../../src/chunker/index.js';
import { AbortedError, UsageError } from '../../src/core/errors.js';
import { pseudoRandom } from './reference.js';

/** Splits `data` at the given cut positions (sorted, may repeat: empty pieces). */
function split(data: Uint8Array, cuts: number[], shiftPieces: boolean): Uint8Array[] {
  const points = [0, ...cuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b), data.length];
  const pieces: Uint8Array[] = [];
  for (let i = 1; i < points.length; i++) {
    const piece = data.subarray(points[i - 1]!, points[i]!);
    if (!shiftPieces) {
      pieces.push(piece);
      continue;
    }
    // A copy at an odd offset inside a larger buffer (like pooled Buffers).
    const shift = 1 + (i % 3);
    const buf = Buffer.alloc(piece.length + shift);
    buf.set(piece, shift);
    pieces.push(buf.subarray(shift));
  }
  return pieces;
}

async function* from(pieces: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of pieces) yield p;
}

async function collect(it: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const out: StreamChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

const paramsArb = fc
  .record({
    min: fc.integer({ min: 64, max: 1000 }),
    avgExtra: fc.integer({ min: 1, max: 3000 }),
    maxExtra: fc.integer({ min: 0, max: 4000 }),
    level: fc.constantFrom(0, 1, 2, 3),
    seed: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  })
  .map(({ min, avgExtra, maxExtra, level, seed }) => {
    const avg = Math.max(256, min + avgExtra);
    return chunkerParams({ min, avg, max: Math.max(1024, avg + maxExtra), level, seed });
  });

function expectSameAsBuffer(data: Uint8Array, chunks: StreamChunk[], params: ChunkerParams) {
  const spans = cutPoints(data, params);
  expect(chunks.map((c) => [c.offset, c.data.length])).toEqual(
    spans.map((s) => [s.offset, s.length]),
  );
  for (const c of chunks) {
    expect(c.data.length).toBeLessThanOrEqual(params.max);
    expect(Buffer.from(c.data).equals(data.subarray(c.offset, c.offset + c.data.length))).toBe(
      true,
    );
  }
}

describe('chunkStream', () => {
  it('gives the same chunks however the input is split (1-byte and empty pieces too)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 30_000 }),
        fc.integer({ min: 1, max: 1000 }),
        paramsArb,
        fc.oneof(
          fc.array(fc.nat(), { maxLength: 40 }),
          // Many tiny pieces, including repeated cut positions (empty pieces).
          fc.array(fc.nat({ max: 3000 }), { minLength: 50, maxLength: 400 }),
        ),
        fc.boolean(),
        async (n, seed, params, cuts, shiftPieces) => {
          const data = pseudoRandom(n, seed);
          const chunks = await collect(chunkStream(from(split(data, cuts, shiftPieces)), params));
          // Compared at the end: a chunker that reused yielded memory would fail here.
          expectSameAsBuffer(data, chunks, params);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('handles one byte at a time and one big piece', async () => {
    const params = chunkerParams({ min: 256, avg: 1024, max: 4096, level: 2 });
    const data = pseudoRandom(40_000, 5);
    const single = Array.from(data, (b) => Uint8Array.of(b));
    expectSameAsBuffer(data, await collect(chunkStream(from(single), params)), params);
    expectSameAsBuffer(data, await collect(chunkStream([data], params)), params);
    expect(await collect(chunkStream([], params))).toEqual([]);
    expect(await collect(chunkStream([new Uint8Array(0)], params))).toEqual([]);
  });

  it('stops with AbortedError when the signal fires', async () => {
    const params = chunkerParams({ min: 256, avg: 1024, max: 4096 });
    const data = pseudoRandom(100_000, 9);
    const ac = new AbortController();
    let seen = 0;
    const run = async () => {
      for await (const _ of chunkStream(split(data, [10_000, 50_000], false), params, ac.signal)) {
        if (++seen === 3) ac.abort();
      }
    };
    await expect(run()).rejects.toBeInstanceOf(AbortedError);
    expect(seen).toBe(3);
    const aborted = AbortSignal.abort();
    await expect(collect(chunkStream([data], params, aborted))).rejects.toMatchObject({
      code: 'aborted',
    });
  });

  it('rejects pieces that are not Uint8Arrays', async () => {
    const params = chunkerParams({ min: 256, avg: 1024, max: 4096 });
    await expect(collect(chunkStream(['abc' as never], params))).rejects.toBeInstanceOf(UsageError);
  });
});

describe('StreamChunker memory bound', () => {
  it('never holds max or more undecided bytes; its buffer is fixed at 2 * max', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60_000 }),
        paramsArb,
        fc.array(fc.nat(), { maxLength: 60 }),
        (n, params, cuts) => {
          const data = pseudoRandom(n, n + 1);
          const sc = new StreamChunker(params);
          expect(sc.capacity).toBe(2 * params.max);
          const chunks: StreamChunk[] = [];
          let pushed = 0;
          for (const piece of split(data, cuts, false)) {
            for (const c of sc.push(piece)) chunks.push(c);
            pushed += piece.length;
            expect(sc.buffered).toBeLessThan(params.max);
            expect(sc.capacity).toBe(2 * params.max);
            expect(sc.position).toBe(chunks.reduce((s, c) => s + c.data.length, 0));
            expect(sc.position + sc.buffered).toBe(pushed);
          }
          for (const c of sc.finish()) chunks.push(c);
          expect(sc.buffered).toBe(0);
          expectSameAsBuffer(data, chunks, params);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('emits pending chunks as soon as max bytes are available', () => {
    const params = chunkerParams({ min: 64, avg: 256, max: 1024 });
    const sc = new StreamChunker(params);
    // All zeros never hit, so every chunk is max long and final once max bytes are in.
    expect([...sc.push(new Uint8Array(1023))]).toHaveLength(0);
    const out = [...sc.push(new Uint8Array(1))];
    expect(out.map((c) => [c.offset, c.data.length])).toEqual([[0, 1024]]);
    expect(sc.buffered).toBe(0);
    expect(() => [...sc.finish(), ...sc.push(new Uint8Array(1))]).toThrow(UsageError);
  });
});
