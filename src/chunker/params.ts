/**
 * Chunker parameters: validation and normalisation.
 *
 * The ranges are those of fastcdc-rs v2020 (checked there only by `debug_assert!`); cairn
 * rejects anything outside them, and also rejects `min >= avg` and `avg > max`, which
 * fastcdc-rs accepts silently (only one mask used) or panics on.
 */
import { UsageError } from '../core/errors.js';

/** Normalised FastCDC 2020 parameters (all sizes in bytes). */
export interface ChunkerParams {
  /** Minimum chunk size; hashing starts at `min & ~1`. */
  readonly min: number;
  /** Target average chunk size; sets the masks (`round(log2(avg))` bits). */
  readonly avg: number;
  /** Maximum chunk size. */
  readonly max: number;
  /** Normalisation level: the masks are `bits + level` before the center, `bits - level` after. */
  readonly level: 0 | 1 | 2 | 3;
  /** Gear table seed, an unsigned 64-bit value; `0n` means no seed. */
  readonly seed: bigint;
}

/** The normalisation level fastcdc-rs uses by default (`FastCDC::new`). */
export const DEFAULT_LEVEL = 1;

/** Inclusive allowed ranges of the size parameters. */
export const CHUNKER_LIMITS = {
  min: { low: 64, high: 1_048_576 },
  avg: { low: 256, high: 4_194_304 },
  max: { low: 1024, high: 16_777_216 },
} as const;

const U64_MAX = (1n << 64n) - 1n;
const SEED_STRING = /^(?:0|[1-9][0-9]*|0[xX][0-9a-fA-F]+)$/;

function checkSize(field: 'min' | 'avg' | 'max', value: unknown): number {
  const { low, high } = CHUNKER_LIMITS[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
    throw new UsageError(
      `chunker params: ${field} must be an integer from ${low} to ${high}, got ${String(value)}`,
    );
  }
  return value;
}

function checkLevel(value: unknown): 0 | 1 | 2 | 3 {
  if (value === undefined) return DEFAULT_LEVEL;
  if (value !== 0 && value !== 1 && value !== 2 && value !== 3) {
    throw new UsageError(`chunker params: level must be 0, 1, 2 or 3, got ${String(value)}`);
  }
  return value;
}

function checkSeed(value: unknown): bigint {
  if (value === undefined) return 0n;
  let seed: bigint | undefined;
  if (typeof value === 'bigint') seed = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) seed = BigInt(value);
  else if (typeof value === 'string' && SEED_STRING.test(value)) seed = BigInt(value);
  if (seed === undefined || seed < 0n || seed > U64_MAX) {
    throw new UsageError(
      `chunker params: seed must be an integer from 0 to 2^64-1 (a bigint, a safe integer, ` +
        `or a decimal or 0x-hex string), got ${String(value)}`,
    );
  }
  return seed;
}

/**
 * Validates chunker parameters and fills the defaults (`level` 1, `seed` 0n).
 *
 * Ranges: `min` 64..1_048_576, `avg` 256..4_194_304, `max` 1024..16_777_216, with
 * `min < avg <= max`; `level` 0..3; `seed` 0..2^64-1 (bigint, safe integer or decimal /
 * 0x-hex string). Returns a new frozen object.
 *
 * @throws UsageError (code `usage`) naming the bad field and its allowed range.
 */
export function chunkerParams(input: {
  min: number;
  avg: number;
  max: number;
  level?: number;
  seed?: bigint | number | string;
}): ChunkerParams {
  if (typeof input !== 'object' || input === null) {
    throw new UsageError('chunker params: expected an object with min, avg and max');
  }
  const min = checkSize('min', input.min);
  const avg = checkSize('avg', input.avg);
  const max = checkSize('max', input.max);
  if (min >= avg) {
    throw new UsageError(`chunker params: min (${min}) must be less than avg (${avg})`);
  }
  if (avg > max) {
    throw new UsageError(`chunker params: avg (${avg}) must not be greater than max (${max})`);
  }
  const level = checkLevel(input.level);
  const seed = checkSeed(input.seed);
  return Object.freeze({ min, avg, max, level, seed });
}

/** True when two parameter sets cut identically (same sizes, level and seed). */
export function sameChunkerParams(a: ChunkerParams, b: ChunkerParams): boolean {
  return (
    a.min === b.min &&
    a.avg === b.avg &&
    a.max === b.max &&
    a.level === b.level &&
    a.seed === b.seed
  );
}
