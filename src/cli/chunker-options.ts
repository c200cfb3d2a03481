/**
 * The chunker options of `init` and `chunk` (`--min`, `--avg`, `--max`, `--level`,
 * `--seed`), checked here so that every error names the option as the user typed it
 * (`--avg 100`) and says what is allowed, rather than a value derived from it (with
 * `--avg` alone, min and max are derived) or a preset's value the user never gave.
 */
import { CHUNKER_LIMITS } from '../chunker/params.js';
import { UsageError } from '../core/errors.js';
import { parseSize } from './parse.js';

/** The chunker options as given on the command line. */
export interface ChunkerFlags {
  min?: string | undefined;
  avg?: string | undefined;
  max?: string | undefined;
  level?: string | undefined;
  seed?: string | undefined;
}

/** Sizes used where an option is not given, and what to call them in messages. */
export interface ChunkerBase {
  min: number;
  avg: number;
  max: number;
  /** e.g. "the backup preset's", "the default" */
  name: string;
}

/** Checked sizes (and level and seed when given), ready for `chunkerParams`. */
export interface ChunkerChoice {
  min: number;
  avg: number;
  max: number;
  level?: number;
  seed?: string;
}

const KiB = 1024;
const MiB = 1024 * 1024;
const U64_MAX = (1n << 64n) - 1n;
const SEED_STRING = /^(?:0|[1-9][0-9]*|0[xX][0-9a-fA-F]+)$/;

/** A size exactly: `64 B`, `16 KiB`, `4 MiB`, `1000 B`. */
export function exactSize(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

const NAMES = { min: 'smallest', avg: 'average', max: 'largest' } as const;

/**
 * Chunker parameters from `flags` over `base`. With only `--avg`, min = avg/4 and
 * max = avg*4; with `--min` or `--max` as well, a size not given is `base`'s.
 *
 * @throws UsageError naming the option and its value: `--avg 100: must be from 256 B to
 *   4 MiB`, `--min 128K: must be smaller than the average chunk size, 64 KiB (the
 *   default; set it with --avg)`.
 */
export function chunkerFromFlags(flags: ChunkerFlags, base: ChunkerBase): ChunkerChoice {
  const given = (field: 'min' | 'avg' | 'max'): number | undefined => {
    const text = flags[field];
    if (text === undefined) return undefined;
    const option = `--${field}`;
    const value = parseSize(text, option);
    const { low, high } = CHUNKER_LIMITS[field];
    if (value < low || value > high) {
      throw new UsageError(
        `${option} ${text}: the ${NAMES[field]} chunk size must be from ${exactSize(low)} to ${exactSize(high)}`,
      );
    }
    return value;
  };
  const avgGiven = given('avg');
  const minGiven = given('min');
  const maxGiven = given('max');
  const alone = avgGiven !== undefined && minGiven === undefined && maxGiven === undefined;
  const avg = avgGiven ?? base.avg;
  // Derived from a valid avg, these are always within their own limits.
  const min = minGiven ?? (alone ? Math.floor(avg / 4) : base.min);
  const max = maxGiven ?? (alone ? avg * 4 : base.max);
  // How to name a size in a message about another: as typed, or where it came from.
  const named = (field: 'min' | 'avg' | 'max', value: number) =>
    flags[field] !== undefined
      ? `--${field} ${flags[field]}`
      : `the ${NAMES[field]} chunk size, ${exactSize(value)} (${base.name}; set it with --${field})`;
  if (min >= avg) {
    throw new UsageError(
      minGiven !== undefined
        ? `--min ${flags.min}: must be smaller than ${named('avg', avg)}`
        : `--avg ${flags.avg}: must be larger than ${named('min', min)}`,
    );
  }
  if (avg > max) {
    throw new UsageError(
      avgGiven !== undefined
        ? `--avg ${flags.avg}: must not be larger than ${named('max', max)}`
        : `--max ${flags.max}: must not be smaller than ${named('avg', avg)}`,
    );
  }
  const choice: ChunkerChoice = { min, avg, max };
  if (flags.level !== undefined) {
    const level = /^\d+$/.test(flags.level) ? Number(flags.level) : Number.NaN;
    if (!(level <= 3)) {
      throw new UsageError(`--level ${flags.level}: the normalization level must be 0, 1, 2 or 3`);
    }
    choice.level = level;
  }
  if (flags.seed !== undefined) {
    // Taken as typed: ` 5` is not a number a user means to type.
    const { seed } = flags;
    if (!SEED_STRING.test(seed) || BigInt(seed) > U64_MAX) {
      throw new UsageError(
        `--seed ${seed}: the gear seed must be a whole number from 0 to 2^64-1 (decimal, or hex with 0x)`,
      );
    }
    choice.seed = seed;
  }
  return choice;
}
