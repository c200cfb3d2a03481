/**
 * Retention policies (pure): which snapshots `forget` keeps, and why.
 *
 * Snapshots are grouped (by host, paths and/or tags), and each group is judged on its
 * own, newest first, with restic's rules:
 * - `last N`: the N newest snapshots;
 * - `hourly/daily/weekly/monthly/yearly N`: the newest snapshot of each of the N newest
 *   hours/days/ISO weeks/months/years that have a snapshot (calendar periods in UTC);
 * - `within D`: every snapshot at most D (e.g. `1y2m3d4h`) older than the group's newest;
 * - `tags`: every snapshot having all the tags of one of the given tag lists.
 * A snapshot is kept if any rule keeps it; its reasons list every rule that did.
 */
import { UsageError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import type { Snapshot } from '../manifest/types.js';
import { orderSnapshots } from '../repo/snapshots.js';

/** A calendar duration, as given to `--keep-within`. */
export interface Duration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

/** A retention policy. Counts are numbers of snapshots or periods. */
export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  within?: Duration;
  /** Tag lists: a snapshot with all tags of any one list is kept. */
  tags?: string[][];
}

/** Fields snapshots can be grouped by. */
export type GroupField = 'host' | 'paths' | 'tags';

/** A snapshot to judge. */
export interface RetentionInput {
  id: ObjectId;
  snapshot: Snapshot;
}

/** The verdict on one snapshot. */
export interface RetentionDecision {
  id: ObjectId;
  snapshot: Snapshot;
  keep: boolean;
  /** Why it is kept (empty when it is removed). */
  reasons: string[];
}

/** One group's verdicts, newest first. */
export interface RetentionGroup {
  /** The group's key fields (only those grouped by). */
  key: { host?: string; paths?: string[]; tags?: string[] };
  decisions: RetentionDecision[];
}

const PERIODS = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
type Period = (typeof PERIODS)[number];

/** The count rules of a policy. */
const COUNTS = ['last', ...PERIODS] as const;

/** True when a duration adds up to nothing (`0d`, `0h`...). */
export function isZeroDuration(d: Duration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

/**
 * True when the policy has no rule that keeps anything (forget refuses to run then: it
 * would remove every snapshot). Like restic, a count of 0 and a zero `within` count as
 * unset: 0 keeps nothing, and a zero `within` is a mistake more likely than a way to say
 * `last 1`.
 */
export function isEmptyPolicy(p: RetentionPolicy): boolean {
  return (
    COUNTS.every((k) => p[k] === undefined || p[k] === 0) &&
    (p.within === undefined || isZeroDuration(p.within)) &&
    (p.tags === undefined || p.tags.length === 0)
  );
}

/** Throws UsageError unless every count and duration part is a whole number >= 0. */
export function checkPolicy(p: RetentionPolicy): void {
  const whole = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  for (const k of COUNTS) {
    const n = p[k];
    if (n !== undefined && !whole(n)) {
      throw new UsageError(`keep-${k} must be a whole number >= 0, got ${n}`);
    }
  }
  const w = p.within;
  if (w !== undefined && ![w.years, w.months, w.days, w.hours].every(whole)) {
    throw new UsageError(`keep-within must have whole numbers >= 0, got ${JSON.stringify(w)}`);
  }
}

/** Parses `1y2m3d4h` (any subset, in that order). */
export function parseDuration(text: string): Duration {
  const m = /^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$/.exec(text.trim());
  if (!m || text.trim() === '') {
    throw new UsageError(
      `bad duration ${JSON.stringify(text)}: use a combination of Ny Nm Nd Nh, e.g. 1y2m3d4h`,
    );
  }
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  return { years: n(m[1]), months: n(m[2]), days: n(m[3]), hours: n(m[4]) };
}

/** A duration back in text form (`1y2m`, `0h` for nothing). */
export function formatDuration(d: Duration): string {
  const s = `${d.years ? `${d.years}y` : ''}${d.months ? `${d.months}m` : ''}${d.days ? `${d.days}d` : ''}${d.hours ? `${d.hours}h` : ''}`;
  return s === '' ? '0h' : s;
}

/**
 * `time` minus `d`, calendar-wise, in UTC (ms since the epoch). A duration reaching back
 * past the earliest time a Date can hold (some 270,000 years) gives -Infinity, before
 * every time: a Date would give NaN, after which no time compares as within it.
 */
export function subtractDuration(time: number, d: Duration): number {
  const t = new Date(time);
  t.setUTCFullYear(
    t.getUTCFullYear() - d.years,
    t.getUTCMonth() - d.months,
    t.getUTCDate() - d.days,
  );
  t.setUTCHours(t.getUTCHours() - d.hours);
  const ms = t.getTime();
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/** The calendar period (in UTC) a time falls into, as a comparable string. */
export function periodOf(period: Period, time: number): string {
  const d = new Date(time);
  const y = d.getUTCFullYear();
  const p2 = (n: number) => String(n).padStart(2, '0');
  switch (period) {
    case 'yearly':
      return `${y}`;
    case 'monthly':
      return `${y}-${p2(d.getUTCMonth() + 1)}`;
    case 'daily':
      return `${y}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}`;
    case 'hourly':
      return `${y}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}`;
    case 'weekly': {
      const w = isoWeek(d);
      return `${w.year}-W${p2(w.week)}`;
    }
  }
}

/** ISO 8601 week-numbering year and week of a date (UTC). */
function isoWeek(date: Date): { year: number; week: number } {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7; // Monday 1 .. Sunday 7
  d.setUTCDate(d.getUTCDate() + 4 - day); // the Thursday of this week decides the year
  const year = d.getUTCFullYear();
  const week = Math.ceil(((d.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return { year, week };
}

/** The group key of a snapshot, as a string, for the given fields. */
function groupKey(s: Snapshot, by: readonly GroupField[]): string {
  return JSON.stringify([
    by.includes('host') ? s.hostname : null,
    by.includes('paths') ? [...s.paths].sort() : null,
    by.includes('tags') ? [...s.tags].sort() : null,
  ]);
}

/**
 * Newest first, the reverse of `orderSnapshots`: equal times put a replacement before
 * the record it replaces, then go by id, so the order (and the verdict) is deterministic.
 */
function newestFirst(members: RetentionInput[]): RetentionInput[] {
  return orderSnapshots([...members]).reverse();
}

/** Applies `policy` to `snapshots`, grouped by `groupBy` (default host and paths). */
export function applyRetention(
  snapshots: readonly RetentionInput[],
  policy: RetentionPolicy,
  groupBy: readonly GroupField[] = ['host', 'paths'],
): RetentionGroup[] {
  checkPolicy(policy);
  const groups = new Map<string, RetentionInput[]>();
  for (const s of snapshots) {
    const k = groupKey(s.snapshot, groupBy);
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  const result: RetentionGroup[] = [];
  for (const [k, members] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const sorted = newestFirst(members);
    result.push({ key: keyObject(k, groupBy), decisions: judgeGroup(sorted, policy) });
  }
  return result;
}

function keyObject(k: string, by: readonly GroupField[]): RetentionGroup['key'] {
  const [host, paths, tags] = JSON.parse(k) as [string | null, string[] | null, string[] | null];
  return {
    ...(by.includes('host') && host !== null ? { host } : {}),
    ...(by.includes('paths') && paths !== null ? { paths } : {}),
    ...(by.includes('tags') && tags !== null ? { tags } : {}),
  };
}

/** Judges one group, given newest first. */
function judgeGroup(sorted: RetentionInput[], policy: RetentionPolicy): RetentionDecision[] {
  const decisions = sorted.map((s) => ({ ...s, keep: false, reasons: [] as string[] }));
  if (sorted.length === 0) return decisions;
  const keep = (d: RetentionDecision, reason: string) => {
    d.keep = true;
    d.reasons.push(reason);
  };
  if (policy.last !== undefined) {
    for (const d of decisions.slice(0, policy.last)) keep(d, 'last snapshot');
  }
  for (const period of PERIODS) {
    let left = policy[period];
    if (left === undefined) continue;
    let previous: string | undefined;
    for (const d of decisions) {
      if (left <= 0) break;
      const p = periodOf(period, Date.parse(d.snapshot.time));
      if (p === previous) continue;
      previous = p;
      keep(d, `${period} snapshot`);
      left--;
    }
  }
  if (policy.within) {
    const newest = Date.parse(decisions[0]!.snapshot.time);
    const limit = subtractDuration(newest, policy.within);
    for (const d of decisions) {
      if (Date.parse(d.snapshot.time) >= limit) keep(d, `within ${formatDuration(policy.within)}`);
    }
  }
  for (const list of policy.tags ?? []) {
    for (const d of decisions) {
      if (list.every((t) => d.snapshot.tags.includes(t))) keep(d, `tag ${list.join(',')}`);
    }
  }
  return decisions;
}
