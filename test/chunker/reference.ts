/**
 * A slow, obviously-correct FastCDC 2020 reference for the tests: BigInt arithmetic mod
 * 2^64, one byte at a time, written from the README's "same thing one byte at a time"
 * section. It computes its own gear table from MD5 so that it shares no code with
 * src/chunker.
 */
import { createHash } from 'node:crypto';

const U64 = (1n << 64n) - 1n;

/** GEAR[i] = first 8 bytes (big-endian) of MD5(64 x byte i). */
export const REF_GEAR: bigint[] = Array.from({ length: 256 }, (_, i) =>
  createHash('md5').update(Buffer.alloc(64, i)).digest().readBigUInt64BE(0),
);

/** MASKS[k] from the README table (k = 5..25). */
export const REF_MASKS: Record<number, bigint> = {
  5: 0x0000000001804110n,
  6: 0x0000000001803110n,
  7: 0x0000000018035100n,
  8: 0x0000001800035300n,
  9: 0x0000019000353000n,
  10: 0x0000590003530000n,
  11: 0x0000d90003530000n,
  12: 0x0000d90103530000n,
  13: 0x0000d90303530000n,
  14: 0x0000d90313530000n,
  15: 0x0000d90f03530000n,
  16: 0x0000d90303537000n,
  17: 0x0000d90703537000n,
  18: 0x0000d90707537000n,
  19: 0x0000d91707537000n,
  20: 0x0000d91747537000n,
  21: 0x0000d91767537000n,
  22: 0x0000d93767537000n,
  23: 0x0000d93777537000n,
  24: 0x0000d93777577000n,
  25: 0x0000db3777577000n,
};

export interface RefParams {
  min: number;
  avg: number;
  max: number;
  level: number;
  seed: bigint;
}

/** Length of the chunk starting at `s`, with `n` bytes of input left. */
export function refCut(d: Uint8Array, s: number, n: number, p: RefParams): number {
  if (n <= p.min) return n;
  let remaining = n;
  let center = p.avg;
  if (remaining > p.max) remaining = p.max;
  else if (remaining < center) center = remaining;
  const bits = Math.round(Math.log2(p.avg));
  const maskS = REF_MASKS[bits + p.level]!;
  const maskL = REF_MASKS[bits - p.level]!;
  const S = p.min & ~1;
  const W = center & ~1;
  const E = remaining & ~1;
  let h = 0n;
  for (let i = S; i < E; i++) {
    const g = REF_GEAR[d[s + i]!]! ^ p.seed;
    h = ((h << 1n) + g) & U64;
    if ((h & (i < W ? maskS : maskL)) === 0n) return i;
  }
  return remaining;
}

/** All chunks of `d` as [offset, length] pairs. */
export function refChunks(d: Uint8Array, p: RefParams): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let s = 0;
  while (s < d.length) {
    const len = refCut(d, s, d.length - s, p);
    out.push([s, len]);
    s += len;
  }
  return out;
}

/** The 64-bit hash h_i after byte i of a chunk hashed from position S (for directed tests). */
export function refHashAt(
  d: Uint8Array,
  s: number,
  from: number,
  to: number,
  seed: bigint,
): bigint {
  let h = 0n;
  for (let i = from; i <= to; i++) h = ((h << 1n) + (REF_GEAR[d[s + i]!]! ^ seed)) & U64;
  return h;
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pseudoRandom(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 24;
  }
  return out;
}
