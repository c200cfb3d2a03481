import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  GEAR,
  GEAR_LS,
  MASKS,
  maskBits,
  masksFor,
  seededGear,
  seededGearLs,
  tableBytes,
} from '../../src/chunker/index.js';
import { REF_GEAR, REF_MASKS } from './reference.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const U64 = (1n << 64n) - 1n;

function popcount(x: bigint): number {
  let n = 0;
  for (; x > 0n; x >>= 1n) n += Number(x & 1n);
  return n;
}

describe('gear tables', () => {
  it('match the published spot values', () => {
    expect(GEAR[0]).toBe(0x3b5d3c7d207e37dcn);
    expect(GEAR[1]).toBe(0x784d68ba91123086n);
    expect(GEAR[255]).toBe(0xaabd2b2a451504e1n);
  });

  it('match the published sha256 of the big-endian tables', () => {
    expect(sha256(tableBytes(GEAR))).toBe(
      '9df0a720752a7d211fdebaf39bed01610983756fc340a1cfef41052b7356ae73',
    );
    expect(sha256(tableBytes(GEAR_LS))).toBe(
      '93123c215ae531383c1b660bb185d4013ba3c87faa99796879f97c4076bdfce2',
    );
  });

  it('agree with the independently computed reference table', () => {
    expect(Array.from(GEAR)).toEqual(REF_GEAR);
    for (let i = 0; i < 256; i++) expect(GEAR_LS[i]).toBe((GEAR[i]! << 1n) & U64);
  });

  it('apply a seed as GEAR ^ seed and GEAR_LS ^ (seed << 1), keeping GEAR_LS = GEAR << 1', () => {
    for (const seed of [0n, 666n, U64, 0x8000000000000001n]) {
      const g = seededGear(seed);
      const gls = seededGearLs(seed);
      for (let i = 0; i < 256; i++) {
        expect(g[i]).toBe(GEAR[i]! ^ seed);
        expect(gls[i]).toBe((g[i]! << 1n) & U64);
      }
    }
    // The shared tables are not modified by seeding.
    expect(sha256(tableBytes(GEAR))).toBe(
      '9df0a720752a7d211fdebaf39bed01610983756fc340a1cfef41052b7356ae73',
    );
  });
});

describe('masks', () => {
  it('MASKS[k] has exactly k bits, all within bits 4..47, and equals the README table', () => {
    expect(MASKS).toHaveLength(26);
    for (let k = 0; k < 5; k++) expect(MASKS[k]).toBe(0n);
    for (let k = 5; k <= 25; k++) {
      expect(MASKS[k]).toBe(REF_MASKS[k]);
      expect(popcount(MASKS[k]!)).toBe(k);
      expect(MASKS[k]! & 0xfn).toBe(0n);
      expect(MASKS[k]! >> 48n).toBe(0n);
    }
  });

  it('bits = round(log2(avg)), e.g. 12288 -> 14 and 16385 -> 14', () => {
    expect(maskBits(12288)).toBe(14);
    expect(maskBits(16385)).toBe(14);
    expect(maskBits(16384)).toBe(14);
    expect(maskBits(256)).toBe(8);
    expect(maskBits(4_194_304)).toBe(22);
  });

  it('picks hard = MASKS[bits+level] and easy = MASKS[bits-level]', () => {
    expect(masksFor(16384, 1)).toEqual({ hard: MASKS[15], easy: MASKS[13] });
    expect(masksFor(16384, 2)).toEqual({ hard: MASKS[16], easy: MASKS[12] });
    expect(masksFor(32768, 0)).toEqual({ hard: MASKS[15], easy: MASKS[15] });
    expect(masksFor(65536, 1)).toEqual({ hard: MASKS[17], easy: MASKS[15] });
    // Every allowed avg and level has masks.
    for (const avg of [256, 300, 4_194_304]) {
      for (let level = 0; level <= 3; level++) expect(() => masksFor(avg, level)).not.toThrow();
    }
  });
});
