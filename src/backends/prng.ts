/** A small seeded pseudo-random generator, for reproducible fault injection. Not for secrets. */

/**
 * Returns a function yielding numbers in [0, 1), the same sequence for the same seed.
 * The seed is scrambled by an integer hash first so that small seeds (1, 2...) do not
 * start with tiny outputs, then stepped with Marsaglia's xorshift32.
 */
export function seededRandom(seed: number): () => number {
  let s = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b);
  s ^= s >>> 13;
  s = Math.imul(s, 0xc2b2ae35);
  s ^= s >>> 16;
  if (s === 0) s = 0x6d2b79f5; // xorshift never leaves zero
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}
