/**
 * The FastCDC 2020 tables: GEAR, GEAR_LS and MASKS, exactly as fastcdc-rs v2020 has them.
 *
 * GEAR[i] is the first 8 bytes (big-endian) of MD5(64 bytes all equal to i), computed here
 * at module load with node:crypto. GEAR_LS[i] = GEAR[i] << 1 (mod 2^64). A seed is XORed
 * into GEAR and, shifted left by one, into GEAR_LS.
 */
import { createHash } from 'node:crypto';

function computeGear(): BigUint64Array {
  const table = new BigUint64Array(256);
  const block = new Uint8Array(64);
  for (let i = 0; i < 256; i++) {
    block.fill(i);
    table[i] = createHash('md5').update(block).digest().readBigUInt64BE(0);
  }
  return table;
}

/** The unseeded gear table (256 unsigned 64-bit values). Treat as read-only. */
export const GEAR: BigUint64Array = computeGear();

/** GEAR shifted left by one bit, top bit dropped. Treat as read-only. */
export const GEAR_LS: BigUint64Array = GEAR.map((g) => g << 1n);

/**
 * MASKS[k] has exactly k one bits (k = 5..25; indexes 0..4 are 0 and unused). Every mask
 * bit lies in bits 4..47.
 */
export const MASKS: readonly bigint[] = Object.freeze([
  0n,
  0n,
  0n,
  0n,
  0n,
  0x0000000001804110n,
  0x0000000001803110n,
  0x0000000018035100n,
  0x0000001800035300n,
  0x0000019000353000n,
  0x0000590003530000n,
  0x0000d90003530000n,
  0x0000d90103530000n,
  0x0000d90303530000n,
  0x0000d90313530000n,
  0x0000d90f03530000n,
  0x0000d90303537000n,
  0x0000d90703537000n,
  0x0000d90707537000n,
  0x0000d91707537000n,
  0x0000d91747537000n,
  0x0000d91767537000n,
  0x0000d93767537000n,
  0x0000d93777537000n,
  0x0000d93777577000n,
  0x0000db3777577000n,
]);

/** GEAR with a seed applied (`GEAR[i] ^ seed`); a fresh array. */
export function seededGear(seed: bigint): BigUint64Array {
  return GEAR.map((g) => g ^ seed);
}

/** GEAR_LS with a seed applied (`GEAR_LS[i] ^ (seed << 1)`, mod 2^64); a fresh array. */
export function seededGearLs(seed: bigint): BigUint64Array {
  const shifted = BigInt.asUintN(64, seed << 1n);
  return GEAR_LS.map((g) => g ^ shifted);
}

/** `round(log2(avg))`, the number of mask bits for an average size (as fastcdc-rs, in f64). */
export function maskBits(avg: number): number {
  return Math.round(Math.log2(avg));
}

/** The hard mask (before the center) and the easy mask (from the center on). */
export function masksFor(avg: number, level: number): { hard: bigint; easy: bigint } {
  const bits = maskBits(avg);
  const hard = MASKS[bits + level];
  const easy = MASKS[bits - level];
  if (hard === undefined || easy === undefined || bits - level < 5) {
    throw new RangeError(`no FastCDC masks for avg ${avg} at level ${level}`);
  }
  return { hard, easy };
}

/** A table as 256 big-endian 8-byte words (2048 bytes), the form whose sha256 is published. */
export function tableBytes(table: BigUint64Array): Uint8Array {
  const out = new Uint8Array(table.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < table.length; i++) view.setBigUint64(i * 8, table[i]!, false);
  return out;
}
