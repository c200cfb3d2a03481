import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { looksIncompressible, sampledEntropy } from '../../src/repo/compressibility.js';
import { pseudoRandomBytes } from '../helpers/fs.js';

const TEXT = Buffer.from(
  Array.from({ length: 3000 }, (_, i) => `row ${i}, status ${i % 7}: ok\n`).join(''),
);

describe('compressibility guess', () => {
  it('measures byte entropy over the sample: 0 for one byte value, 8 for all of them evenly', () => {
    expect(sampledEntropy(new Uint8Array(65536).fill(7))).toBe(0);
    const cycle = Uint8Array.from({ length: 65536 }, (_, i) => i & 255);
    expect(sampledEntropy(cycle)).toBeCloseTo(8, 10);
    const twoValues = Uint8Array.from({ length: 65536 }, (_, i) => (i % 2 ? 1 : 2));
    expect(sampledEntropy(twoValues)).toBeCloseTo(1, 10);
  });

  it('samples the whole object, not only its start', () => {
    // Zeros, then random bytes: a sample of the start alone would see only zeros.
    const mixed = Buffer.concat([Buffer.alloc(8192), pseudoRandomBytes(56 * 1024, 2)]);
    expect(sampledEntropy(mixed)).toBeGreaterThan(6);
    expect(sampledEntropy(mixed)).toBeLessThan(7.8);
  });

  it('takes random bytes as incompressible and text, zeros or half-random data as not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8192, max: 262144 }), fc.integer(), (size, seed) => {
        expect(looksIncompressible(pseudoRandomBytes(size, seed))).toBe(true);
      }),
      { numRuns: 50 },
    );
    expect(looksIncompressible(TEXT)).toBe(false);
    expect(looksIncompressible(new Uint8Array(65536))).toBe(false);
    const half = Buffer.concat([pseudoRandomBytes(32768, 5), Buffer.alloc(32768, 32)]);
    expect(looksIncompressible(half)).toBe(false);
  });

  it('always lets zstd try data too short for a meaningful sample', () => {
    expect(looksIncompressible(pseudoRandomBytes(8191, 1))).toBe(false);
    expect(looksIncompressible(pseudoRandomBytes(8192, 1))).toBe(true);
  });
});
