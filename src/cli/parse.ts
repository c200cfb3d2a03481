/** Parsing option values given on the command line. */
import { InvalidArgumentError } from 'commander';
import { UsageError } from '../core/errors.js';
// The field rules alone, not the codec: parsing must not load msgpack (see context.ts).
import { checkTags, checkText, type FieldFail } from '../manifest/snapshot-fields.js';

const SIZE = /^(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$/i;
const FACTORS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** "64K", "1MiB", "4096" -> bytes (binary units). */
export function parseSize(value: string, option: string): number {
  const m = SIZE.exec(value.trim());
  if (!m)
    throw new UsageError(
      `${option}: ${JSON.stringify(value)} is not a size (examples: 4096, 64K, 1M)`,
    );
  const bytes = Number(m[1]) * FACTORS[(m[2] ?? 'b').toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) {
    throw new UsageError(`${option}: ${JSON.stringify(value)} is too large (at most 8 PiB)`);
  }
  return bytes;
}

/** A non-negative integer. */
export function parseInteger(value: string, option: string): number {
  if (!/^\d+$/.test(value.trim()))
    throw new UsageError(`${option}: ${JSON.stringify(value)} is not a whole number`);
  return Number(value);
}

/**
 * Collects a repeatable option; commas also separate values (for tags). A value that
 * names nothing (`--tag ''`, an unset shell variable) is refused: as a filter it would
 * be read as no filter, every snapshot.
 */
export function collectList(value: string, previous: string[] = []): string[] {
  const values = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values.length === 0) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} names no tag`);
  }
  return [...previous, ...values];
}

/** `collectList` for `tag --set`, whose empty value would mean "no tags": that is `--clear`. */
export function collectSetTags(value: string, previous: string[] = []): string[] {
  try {
    return collectList(value, previous);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message} (to remove every tag: --clear)`);
  }
}

const TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A point in time as `backup --time` takes it: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.mmm]]`
 * (or with `T`), in local time unless it ends with `Z` or an offset (`+02:00`), as
 * `snapshots` prints local times.
 */
export function parseTime(value: string, option: string): Date {
  const bad = () =>
    new UsageError(
      `${option}: ${JSON.stringify(value)} is not a time (examples: 2026-11-24, 2026-11-24 09:30:00, 2026-11-24T09:30:00Z)`,
    );
  const m = TIME.exec(value.trim());
  if (!m) throw bad();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Number((m[7] ?? '0').padEnd(3, '0'));
  // Set as UTC first: a day that does not exist (2026-02-30) would roll over.
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, ms);
  const exists = utc.getUTCMonth() === month - 1 && utc.getUTCDate() === day;
  if (!exists || hour > 23 || minute > 59 || second > 59) throw bad();
  const zone = m[8];
  if (zone === undefined) {
    const local = new Date(0);
    local.setFullYear(year, month - 1, day);
    local.setHours(hour, minute, second, ms);
    // A local time skipped when clocks go forward (02:30 on a spring DST night) comes
    // back as another hour: refused rather than recorded as a time not asked for.
    if (local.getHours() !== hour || local.getMinutes() !== minute) {
      throw new UsageError(
        `${option}: ${JSON.stringify(value)} does not exist in local time (clocks went forward): give an offset or Z`,
      );
    }
    return local;
  }
  const offsetHours = zone === 'Z' ? 0 : Number(zone.slice(1, 3));
  const offsetMins = zone === 'Z' ? 0 : Number(zone.slice(zone.length - 2));
  if (offsetHours > 23 || offsetMins > 59) throw bad();
  const offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMins);
  return new Date(utc.getTime() - offsetMinutes * 60_000);
}

/** Collects a repeatable option as is. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Checks tags to record in a new snapshot against the rule the snapshot record enforces
 * (a tag used as a filter needs no check: a bad one matches nothing).
 */
export function checkTagOption(tags: readonly string[], option: string): void {
  checkTags(tags, optionFail(option));
}

/** Checks a hostname to record in a new snapshot. */
export function checkHostOption(host: string, option: string): void {
  // Refused rather than read as "not given", which would record this machine's name.
  if (host === '') throw new UsageError(`${option}: the name is empty`);
  checkText('host', host, optionFail(option));
}

/** Reports a snapshot field problem as a usage error naming the option. */
function optionFail(option: string): FieldFail {
  return (_field, problem) => {
    throw new UsageError(`${option}: ${problem}`);
  };
}
