import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ChunkerParams,
  chunkerParams,
  chunkSpans,
  cutLength,
  cutPoints,
  FastCDC,
  GEAR,
  MASKS,
} from '../../src/chunker/index.js';
import { UsageError } from '../../src/core/errors.js';
import { dataArb, paramsArb, U64 } from './arbitraries.js';
import { pseudoRandom, refChunks, refCut, refHashAt } from './reference.js';

const fixtures = new URL('../fixtures/', import.meta.url);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Vector {
  id: string;
  file?: string;
  input?: { zeros: number };
  min: number;
  avg: number;
  max: number;
  level: number;
  seed: number;
  chunks: Array<[number, number]>;
  sha256?: string[];
}
const vectorFile = JSON.parse(readFileSync(new URL('vectors-v2020.json', fixtures), 'utf8')) as {
  files: Record<string, { size: number; sha256: string }>;
  vectors: Vector[];
};

function vectorInput(v: Vector): Uint8Array {
  if (v.file !== undefined) {
    const data = new Uint8Array(readFileSync(new URL(v.file, fixtures)));
    expect(sha256(data)).toBe(vectorFile.files[v.file]!.sha256);
    return data;
  }
  return new Uint8Array(v.input!.zeros);
}

/** `data` copied to a fresh buffer at byte offset `shift`, so word alignment differs. */
function shifted(data: Uint8Array, shift: number): Uint8Array {
  const buf = new Uint8Array(data.length + shift + 3);
  buf.set(data, shift);
  return buf.subarray(shift, shift + data.length);
}

const pairs = (spans: Array<{ offset: number; length: number }>) =>
  spans.map((s) => [s.offset, s.length]);

describe('fastcdc-rs v2020 vectors', () => {
  expect(vectorFile.vectors.length).toBeGreaterThanOrEqual(7);
  for (const v of vectorFile.vectors) {
    it(v.id, () => {
      const data = vectorInput(v);
      const params = chunkerParams(v);
      expect(pairs(cutPoints(data, params))).toEqual(v.chunks);
      // The same through the iterator, the one-chunk call, and unaligned copies.
      expect(pairs([...chunkSpans(data, params)])).toEqual(v.chunks);
      const cdc = new FastCDC(params);
      const viaCut: number[][] = [];
      for (let s = 0; s < data.length; ) {
        const n = cutLength(data, s, data.length, cdc);
        viaCut.push([s, n]);
        s += n;
      }
      expect(viaCut).toEqual(v.chunks);
      for (const shift of [1, 2, 3]) {
        expect(pairs(cdc.cutPoints(shifted(data, shift)))).toEqual(v.chunks);
      }
      if (v.sha256) {
        expect(v.chunks.map(([o, n]) => sha256(data.subarray(o, o + n)))).toEqual(v.sha256);
      }
      // The slow reference agrees too (it is what the property tests trust).
      expect(refChunks(data, { ...params })).toEqual(v.chunks);
    });
  }
});

function checkCover(spans: Array<{ offset: number; length: number }>, p: ChunkerParams, n: number) {
  let at = 0;
  spans.forEach((s, i) => {
    expect(s.offset).toBe(at);
    expect(s.length).toBeGreaterThan(0);
    expect(s.length).toBeLessThanOrEqual(p.max);
    if (i < spans.length - 1) expect(s.length).toBeGreaterThanOrEqual(p.min & ~1);
    at += s.length;
  });
  expect(at).toBe(n);
}

describe('agrees with the byte-at-a-time BigInt reference', () => {
  it('on random data and random params (odd min/max/tails, any avg, all levels, seeds)', () => {
    fc.assert(
      fc.property(dataArb, paramsArb, fc.integer({ min: 0, max: 3 }), (data, params, shift) => {
        const got = pairs(cutPoints(shifted(data, shift), params));
        expect(got).toEqual(refChunks(data, params));
      }),
      { numRuns: 150 },
    );
  });

  it('on 1 MiB of random data with larger params', () => {
    const data = pseudoRandom(1 << 20, 12345);
    for (const p of [
      { min: 4096, avg: 16384, max: 65535, level: 1 },
      { min: 2049, avg: 12288, max: 40001, level: 2, seed: 0xdeadbeefn },
      { min: 8191, avg: 16385, max: 16385, level: 3 },
      { min: 16384, avg: 65536, max: 262144, level: 0, seed: U64 },
    ]) {
      const params = chunkerParams(p);
      expect(pairs(cutPoints(data, params))).toEqual(refChunks(data, params));
    }
  });

  it('for one chunk with `end` before the end of the data (end is treated as the end)', () => {
    fc.assert(
      fc.property(dataArb, paramsArb, fc.nat(), fc.nat(), (data, params, x, y) => {
        const start = data.length === 0 ? 0 : x % (data.length + 1);
        const end = start + (y % (data.length - start + 1));
        const want = refCut(data.subarray(0, end), start, end - start, params);
        expect(cutLength(data, start, end, params)).toBe(want);
      }),
      { numRuns: 150 },
    );
  });
});

describe('runs of zeros (cut without scanning once max zeros are ahead)', () => {
  /** Zero runs, some longer than max, between pieces of data, some of them zeros at an end. */
  const zeroRunsArb = fc
    .array(
      fc.oneof(
        fc.integer({ min: 0, max: 40_000 }).map((n) => new Uint8Array(n)),
        fc
          .tuple(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 2 ** 31 }))
          .map(([n, seed]) => pseudoRandom(n, seed)),
        // Zeros but for one byte: at the start, the end of a max-long stretch, or inside.
        fc
          .tuple(fc.integer({ min: 1, max: 20_000 }), fc.nat(), fc.integer({ min: 1, max: 255 }))
          .map(([n, at, v]) => {
            const out = new Uint8Array(n);
            out[at % n] = v;
            return out;
          }),
      ),
      { maxLength: 8 },
    )
    .map((parts) => Buffer.concat(parts));

  it('cut where the byte-at-a-time reference cuts', () => {
    fc.assert(
      fc.property(zeroRunsArb, paramsArb, fc.integer({ min: 0, max: 3 }), (data, params, shift) => {
        expect(pairs(cutPoints(shifted(data, shift), params))).toEqual(refChunks(data, params));
      }),
      { numRuns: 150 },
    );
  });

  it('cut where the reference cuts with the default sizes, a nonzero byte at every edge', () => {
    const params = chunkerParams({ min: 16384, avg: 65536, max: 262144 });
    const data = new Uint8Array(3 * 262144 + 1000);
    for (const at of [0, 262143, 262144, 262145, 2 * 262144 + 17]) {
      const copy = data.slice();
      copy[at] = 7;
      expect(pairs(cutPoints(copy, params))).toEqual(refChunks(copy, params));
    }
    expect(pairs(cutPoints(data, params))).toEqual(refChunks(data, params));
  });
});

describe('chunk layout', () => {
  it('chunks are contiguous, cover every byte once, and respect min & ~1 .. max', () => {
    fc.assert(
      fc.property(dataArb, paramsArb, (data, params) => {
        checkCover(cutPoints(data, params), params, data.length);
      }),
      { numRuns: 100 },
    );
  });

  it('empty input gives no chunks; input of at most min bytes gives one', () => {
    const p = chunkerParams({ min: 100, avg: 1000, max: 4000 });
    expect(cutPoints(new Uint8Array(0), p)).toEqual([]);
    expect(cutPoints(new Uint8Array(100), p)).toEqual([{ offset: 0, length: 100 }]);
    expect(cutLength(new Uint8Array(10), 10, 10, p)).toBe(0);
  });

  it('all zeros cut at max (no position ever hashes to a hit)', () => {
    const p = chunkerParams({ min: 64, avg: 256, max: 1024 });
    expect(cutPoints(new Uint8Array(3000), p).map((s) => s.length)).toEqual([1024, 1024, 952]);
  });
});

describe('the odd cases of v2020', () => {
  it('with odd min, hashing starts at min & ~1, so a chunk can be min - 1 bytes', () => {
    const min = 101;
    const hard = MASKS[10 + 1]!; // avg 1000 -> bits 10, level 1
    const x = 0x41;
    // A seed that clears the hard-mask bits of GEAR[x]: a hit at the very first position.
    const seed = GEAR[x]! & hard;
    const params = chunkerParams({ min, avg: 1000, max: 4096, seed });
    const data = pseudoRandom(5000, 7);
    data[100] = x;
    expect(refHashAt(data, 0, 100, 100, seed) & hard).toBe(0n);
    expect(cutPoints(data, params)[0]).toEqual({ offset: 0, length: min - 1 });
  });

  it('with odd max, the last byte of the window is not examined (length max, not max - 1)', () => {
    const params = chunkerParams({ min: 1000, avg: 1001, max: 1025, level: 0 });
    const mask = MASKS[10]!;
    let found = 0;
    for (let seed = 1; found < 3 && seed < 500; seed++) {
      const data = pseudoRandom(3000, seed);
      if (refCut(data, 0, data.length, params) !== 1025) continue; // a hit before 1024
      for (let v = 0; v < 256; v++) {
        data[1024] = v;
        if ((refHashAt(data, 0, 1000, 1024, 0n) & mask) !== 0n) continue;
        // A byte-by-byte chunker scanning to max would cut at 1024 here; v2020 does not.
        expect(cutLength(data, 0, data.length, params)).toBe(1025);
        found++;
        break;
      }
    }
    expect(found).toBe(3);
  });

  it('with odd avg, the easy mask starts at center & ~1 (position center - 1)', () => {
    const params = chunkerParams({ min: 600, avg: 1001, max: 4096, level: 2 });
    const hard = MASKS[12]!;
    const easy = MASKS[8]!;
    let found = 0;
    for (let seed = 1; found < 3 && seed < 500; seed++) {
      const data = pseudoRandom(3000, seed);
      if (refCut(data, 0, data.length, params) < 1000) continue; // a hit before the center
      for (let v = 0; v < 256; v++) {
        data[1000] = v;
        const h = refHashAt(data, 0, 600, 1000, 0n);
        if ((h & easy) !== 0n || (h & hard) === 0n) continue;
        // Position 1000 = avg - 1 < avg, yet it is tested with the easy mask.
        expect(cutLength(data, 0, data.length, params)).toBe(1000);
        found++;
        break;
      }
    }
    expect(found).toBe(3);
  });
});

describe('prepared chunkers', () => {
  it('interleaving chunkers with different seeds and masks gives each its own cuts', () => {
    const data = pseudoRandom(200_000, 99);
    const chunkers = [
      new FastCDC(chunkerParams({ min: 1024, avg: 4096, max: 16384, seed: 1 })),
      new FastCDC(chunkerParams({ min: 1024, avg: 4096, max: 16384, seed: 2 })),
      new FastCDC(chunkerParams({ min: 2000, avg: 8000, max: 30000, level: 3 })),
    ];
    const alone = chunkers.map((c) => pairs(c.cutPoints(data)));
    const pos = [0, 0, 0];
    const got: number[][][] = [[], [], []];
    while (pos.some((p) => p < data.length)) {
      chunkers.forEach((c, i) => {
        if (pos[i]! >= data.length) return;
        const n = c.cut(data, pos[i]!, data.length);
        got[i]!.push([pos[i]!, n]);
        pos[i]! += n;
      });
    }
    expect(got).toEqual(alone);
    expect(alone[0]).not.toEqual(alone[1]);
  });

  it('cutLength and cutPoints accept either params or a FastCDC', () => {
    const data = pseudoRandom(50_000, 3);
    const params = chunkerParams({ min: 256, avg: 1024, max: 4096 });
    expect(cutPoints(data, new FastCDC(params))).toEqual(cutPoints(data, params));
    expect(cutLength(data, 0, data.length, params)).toBe(cutPoints(data, params)[0]!.length);
  });

  it('rejects bad ranges and bad params with UsageError', () => {
    const p = chunkerParams({ min: 64, avg: 256, max: 1024 });
    const data = new Uint8Array(100);
    for (const [s, e] of [
      [-1, 10],
      [20, 10],
      [0, 101],
      [0.5, 10],
    ] as const) {
      expect(() => cutLength(data, s, e, p)).toThrow(UsageError);
    }
    expect(() => cutPoints('abc' as never, p)).toThrow(UsageError);
    expect(() => new FastCDC({ ...p, min: 10 })).toThrow(/min must be an integer from 64/);
  });
});
