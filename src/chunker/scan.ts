/**
 * The hot loop: finds the first cut position in a range, exact to fastcdc-rs v2020.
 *
 * Representation. Every cut decision depends only on `h mod 2^48` (every mask bit lies in
 * bits 4..47 and carries only move upward), so the 64-bit gear hash is kept as two int32s:
 * `h = b * 2^16 + a` where `b` holds bits 16..47 (mod 2^32) and `a` the low bits. The
 * byte step `h = (h << 1) + G[x]` becomes `a = 2a + GA[x]`, `b = 2b + GB[x]` with
 * `GA = G & 0xffff` and `GB = (G >> 16) mod 2^32`. The carry from `a` into `b` is applied
 * lazily: the low part may grow past 16 bits for a few bytes (it stays below 2^25 between
 * normalisations every 8 bytes), and the bits 16..47 that a test needs are `b + (a >>> 16)`.
 *
 * Speed. This is what V8 makes fast (measured, Node 20): the gear tables are two fixed
 * module-level Int32Arrays whose contents are swapped in when a different seed is used
 * (V8 then keeps their base and length in registers); the input is read 4 bytes at a time
 * through an aligned Int32Array view; each 16-byte block tests only the high half of the
 * mask and, on the rare hit, the block is redone byte by byte with the full test. Rare
 * paths sit outside the unrolled block so they do not deoptimise it.
 */

/** Low 16 bits of the active seeded gear table. */
const GA = new Int32Array(256);
/** Bits 16..47 (as int32) of the active seeded gear table. */
const GB = new Int32Array(256);
let activeLow: Int32Array | null = null;

/** Hash state carried between the scan functions: [a, b]. */
const state = new Int32Array(2);

/** Bytes per unrolled block of the word loop. */
const BLOCK = 16;

/** True on little-endian hosts, where the word loop reads bytes in order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The split form of one seeded gear table and one mask pair, prepared once per params. */
export interface SplitTables {
  /** GEAR[i] & 0xffff. */
  readonly low: Int32Array;
  /** (GEAR[i] >> 16) mod 2^32, as int32. */
  readonly high: Int32Array;
}

/** Splits a 64-bit table into the two int32 tables the scan uses. */
export function splitTable(table: BigUint64Array): SplitTables {
  const low = new Int32Array(256);
  const high = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const g = table[i]!;
    low[i] = Number(g & 0xffffn);
    high[i] = Number(BigInt.asIntN(32, g >> 16n));
  }
  return { low, high };
}

/** Low 16 bits of a mask. */
export function maskLow(mask: bigint): number {
  return Number(mask & 0xffffn);
}

/** Bits 16..47 of a mask as an int32. */
export function maskHigh(mask: bigint): number {
  return Number(BigInt.asIntN(32, mask >> 16n));
}

/** Makes `tables` the ones the scan reads (a 2 KiB copy, only when they change). */
export function activate(tables: SplitTables): void {
  if (activeLow !== tables.low) {
    GA.set(tables.low);
    GB.set(tables.high);
    activeLow = tables.low;
  }
}

/**
 * An Int32Array over the 4-byte-aligned interior of `data`'s memory, for the word loop;
 * null on big-endian hosts or when `data` is too short to matter.
 */
export function wordView(data: Uint8Array): Int32Array | null {
  if (!LITTLE_ENDIAN || data.length < 2 * BLOCK) return null;
  const base = (data.byteOffset + 3) & ~3;
  const count = (data.byteOffset + data.length - base) >> 2;
  return new Int32Array(data.buffer, base, count);
}

/**
 * Exact byte-at-a-time scan of [p, stop) continuing from `state`; returns the first
 * position whose hash has no bit of the mask set, or -1 (then `state` holds the
 * normalised hash after the last byte).
 */
function scanBytes(d: Uint8Array, p: number, stop: number, mLow: number, mHigh: number): number {
  let a = state[0]!;
  let b = state[1]!;
  for (; p < stop; p++) {
    const x = d[p]!;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    b = (b + (a >>> 16)) | 0;
    a &= 0xffff;
    if ((b & mHigh) === 0 && (a & mLow) === 0) return p;
  }
  state[0] = a;
  state[1] = b;
  return -1;
}

/**
 * Word loop over whole 16-byte blocks from `p` (which must be 4-byte aligned in memory).
 * Tests only the high mask half. Returns the start of the first block with a possible
 * hit (with `state` at that block's start), or the position where fewer than 16 bytes
 * were left.
 */
function scanWords(w: Int32Array, off: number, p: number, stop: number, mHigh: number): number {
  let a = state[0]!;
  let b = state[1]!;
  let v = 0;
  let x = 0;
  for (; p + BLOCK <= stop; p += BLOCK) {
    const a0 = a;
    const b0 = b;
    const i = (p + off) >> 2;
    v = w[i]!;
    x = v & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = (v >>> 8) & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = (v >>> 16) & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = v >>> 24;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    v = w[i + 1]!;
    x = v & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = (v >>> 8) & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = (v >>> 16) & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = v >>> 24;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    // Normalise every 8 bytes so `a` stays far below 2^31.
    b = (b + (a >>> 16)) | 0;
    a &= 0xffff;
    v = w[i + 2]!;
    x = v & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = (v >>> 8) & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = (v >>> 16) & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = v >>> 24;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    v = w[i + 3]!;
    x = v & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = (v >>> 8) & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = (v >>> 16) & 255;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    x = v >>> 24;
    a = ((a << 1) + GA[x]!) | 0;
    b = ((b << 1) + GB[x]!) | 0;
    if ((((b + (a >>> 16)) | 0) & mHigh) === 0) {
      a = a0;
      b = b0;
      break;
    }
    b = (b + (a >>> 16)) | 0;
    a &= 0xffff;
  }
  state[0] = a;
  state[1] = b;
  return p;
}

/** First hit in [p, stop) with one mask, continuing from `state`; -1 if none. */
function scanRange(
  d: Uint8Array,
  w: Int32Array | null,
  p: number,
  stop: number,
  mLow: number,
  mHigh: number,
): number {
  if (w === null || stop - p < 2 * BLOCK) return scanBytes(d, p, stop, mLow, mHigh);
  // Byte position q of `d` is word (q + off) / 4 of `w` when q + off is a multiple of 4.
  const off = d.byteOffset - w.byteOffset;
  let q = p;
  while (((q + off) & 3) !== 0) q++;
  let hit = scanBytes(d, p, q, mLow, mHigh);
  if (hit >= 0) return hit;
  p = q;
  for (;;) {
    p = scanWords(w, off, p, stop, mHigh);
    // Either a block that may hold a hit, or the tail of fewer than BLOCK bytes.
    const next = Math.min(p + BLOCK, stop);
    hit = scanBytes(d, p, next, mLow, mHigh);
    if (hit >= 0 || next === stop) return hit;
    p = next;
  }
}

/**
 * The cut search of one chunk, on absolute positions of `d`: hash from `from` (hash 0
 * before it), hard mask on [from, center), easy mask on [center, stop). Returns the first
 * position whose hash has no mask bit set, or -1. `w` is `wordView(d)` or null; `tables`
 * must have been passed to `activate` just before.
 */
export function findCut(
  d: Uint8Array,
  w: Int32Array | null,
  from: number,
  center: number,
  stop: number,
  hardLow: number,
  hardHigh: number,
  easyLow: number,
  easyHigh: number,
): number {
  state[0] = 0;
  state[1] = 0;
  const hit = scanRange(d, w, from, center, hardLow, hardHigh);
  if (hit >= 0) return hit;
  return scanRange(d, w, center, stop, easyLow, easyHigh);
}
