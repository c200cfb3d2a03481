/**
 * Arbitraries for the chunker's property tests (fastcdc.test.ts, engines.test.ts).
 */
import fc from 'fast-check';
import { chunkerParams } from '../../src/chunker/index.js';
import { pseudoRandom } from './reference.js';

/** The largest 64-bit seed. */
export const U64 = (1n << 64n) - 1n;

// Small sizes so that random inputs of a few KiB hold many chunks; odd values on purpose.
export const paramsArb = fc
  .record({
    min: fc.integer({ min: 64, max: 1500 }),
    avgExtra: fc.integer({ min: 1, max: 5000 }),
    maxExtra: fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 9000 })),
    level: fc.constantFrom(0, 1, 2, 3),
    seed: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: U64 })),
  })
  .map(({ min, avgExtra, maxExtra, level, seed }) => {
    const avg = Math.max(256, min + avgExtra);
    return chunkerParams({ min, avg, max: Math.max(1024, avg + maxExtra), level, seed });
  });

export const dataArb = fc.oneof(
  fc.uint8Array({ maxLength: 24_000 }),
  fc.uint8Array({ maxLength: 24_000, max: 3 }),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 0, max: 20_000 }))
    .map(([unit, n]) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = unit[i % unit.length]!;
      return out;
    }),
  fc
    .tuple(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 1, max: 2 ** 31 }))
    .map(([n, seed]) => pseudoRandom(n, seed)),
);
