/**
 * Retention rules: examples, and a model-based test comparing `applyRetention` with a
 * straightforward reference model of restic's semantics on random snapshot sets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/manifest/types.js';
import {
  applyRetention,
  checkPolicy,
  type Duration,
  type GroupField,
  isEmptyPolicy,
  parseDuration,
  type RetentionInput,
  type RetentionPolicy,
  subtractDuration,
} from '../../src/ops/retention.js';

function snap(i: number, time: string, o: Partial<Snapshot> = {}): RetentionInput {
  const snapshot = {
    time,
    hostname: 'h',
    username: 'u',
    paths: ['/src'],
    tags: [],
    tree: '0'.repeat(64),
    program: 'test',
    ...o,
  } as unknown as Snapshot;
  return { id: i.toString(16).padStart(64, '0'), snapshot };
}

function verdicts(inputs: RetentionInput[], policy: RetentionPolicy, by?: GroupField[]) {
  const out = new Map<string, { keep: boolean; reasons: string[] }>();
  for (const g of applyRetention(inputs, policy, by)) {
    for (const d of g.decisions) out.set(d.id, { keep: d.keep, reasons: d.reasons });
  }
  return out;
}

describe('retention examples', () => {
  const days = Array.from({ length: 10 }, (_, i) =>
    snap(i, new Date(Date.UTC(2024, 0, 1 + i, 12)).toISOString()),
  );

  it('keep-last and keep-daily keep the newest, with reasons', () => {
    const v = verdicts(days, { last: 2, daily: 3 });
    const kept = [...v].filter(([, d]) => d.keep).map(([id]) => Number.parseInt(id, 16));
    expect(kept.sort((a, b) => a - b)).toEqual([7, 8, 9]);
    expect(v.get(days[9]!.id)!.reasons).toEqual(['last snapshot', 'daily snapshot']);
    expect(v.get(days[7]!.id)!.reasons).toEqual(['daily snapshot']);
    expect(v.get(days[0]!.id)).toEqual({ keep: false, reasons: [] });
  });

  it('keep-within longer than a date can reach back keeps everything (not nothing)', () => {
    // 300,000 years before 2024 is before the earliest Date (some 271,800 BC): the
    // subtraction gave NaN, so no snapshot counted as within and all were removed.
    for (const text of ['300000y', '9999999999h', '270000y', '3000000m']) {
      const v = verdicts(days, { within: parseDuration(text) });
      expect(
        [...v.values()].every((d) => d.keep),
        text,
      ).toBe(true);
    }
    expect(subtractDuration(Date.UTC(2024, 0, 1), parseDuration('300000y'))).toBe(
      Number.NEGATIVE_INFINITY,
    );
  });

  it('keep-within counts back from the newest snapshot', () => {
    const v = verdicts(days, { within: parseDuration('3d') });
    const kept = [...v].filter(([, d]) => d.keep).map(([id]) => Number.parseInt(id, 16));
    expect(kept.sort((a, b) => a - b)).toEqual([6, 7, 8, 9]);
    expect(v.get(days[6]!.id)!.reasons).toEqual(['within 3d']);
  });

  it('keep-tag, and groups judged separately', () => {
    const s = [
      snap(1, '2024-01-01T00:00:00.000Z', { tags: ['release', 'x'] }),
      snap(2, '2024-01-02T00:00:00.000Z'),
      snap(3, '2024-01-03T00:00:00.000Z', { hostname: 'other' }),
    ];
    const v = verdicts(s, { last: 1, tags: [['release']] });
    expect(v.get(s[0]!.id)).toEqual({ keep: true, reasons: ['tag release'] });
    expect(v.get(s[1]!.id)!.keep).toBe(true); // newest of host h
    expect(v.get(s[2]!.id)!.keep).toBe(true); // newest of host other
    const all = verdicts(s, { last: 1 }, []);
    expect([...all.values()].filter((d) => d.keep)).toHaveLength(1);
  });

  it('parses durations and rejects bad ones', () => {
    expect(parseDuration('1y2m3d4h')).toEqual({ years: 1, months: 2, days: 3, hours: 4 });
    expect(parseDuration('5d')).toEqual({ years: 0, months: 0, days: 5, hours: 0 });
    expect(() => parseDuration('')).toThrow(/bad duration/);
    expect(() => parseDuration('3w')).toThrow(/bad duration/);
    expect(() => parseDuration('4h3d')).toThrow(/bad duration/);
  });

  it('a policy of zero counts and a zero within keeps nothing: it counts as empty', () => {
    const zero = parseDuration('0d');
    for (const p of [
      {},
      { last: 0 },
      { daily: 0 },
      { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 },
      { within: zero },
      { last: 0, within: zero, tags: [] },
    ] as RetentionPolicy[]) {
      expect(isEmptyPolicy(p), JSON.stringify(p)).toBe(true);
    }
    for (const p of [{ last: 1 }, { last: 0, daily: 2 }, { within: parseDuration('1h') }]) {
      expect(isEmptyPolicy(p), JSON.stringify(p)).toBe(false);
    }
    expect(isEmptyPolicy({ tags: [['release']] })).toBe(false);
  });

  it('checkPolicy rejects negative and fractional counts and durations', () => {
    expect(() => checkPolicy({ last: -1 })).toThrow(/keep-last must be a whole number/);
    expect(() => checkPolicy({ daily: 1.5 })).toThrow(/keep-daily must be a whole number/);
    expect(() => checkPolicy({ weekly: Number.NaN })).toThrow(/keep-weekly/);
    const bad = { years: 0, months: 0, days: -1, hours: 0 };
    expect(() => checkPolicy({ within: bad })).toThrow(/keep-within/);
    expect(() => checkPolicy({ last: 0, within: parseDuration('2d') })).not.toThrow();
  });

  it('weekly uses ISO weeks: Sunday and the following Monday are different weeks', () => {
    const s = [
      snap(1, '2023-01-01T10:00:00.000Z'), // Sunday, ISO week 2022-W52
      snap(2, '2023-01-02T10:00:00.000Z'), // Monday, 2023-W01
      snap(3, '2023-01-08T10:00:00.000Z'), // Sunday, 2023-W01
    ];
    const v = verdicts(s, { weekly: 5 });
    expect([...v].filter(([, d]) => d.keep).map(([id]) => Number.parseInt(id, 16))).toEqual([3, 1]);
  });
});

// ---- reference model ----

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** ISO week key computed from the Monday/Thursday of the week, by plain arithmetic. */
function refWeek(t: number): string {
  const dayStart = Math.floor(t / DAY) * DAY;
  const weekday = (new Date(dayStart).getUTCDay() + 6) % 7; // Monday 0
  const thursday = dayStart + (3 - weekday) * DAY;
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY)) + 1;
  return `${year}/${String(week).padStart(2, '0')}`;
}

function refPeriod(kind: string, t: number): string {
  const iso = new Date(t).toISOString(); // YYYY-MM-DDTHH:...
  switch (kind) {
    case 'yearly':
      return iso.slice(0, 4);
    case 'monthly':
      return iso.slice(0, 7);
    case 'daily':
      return iso.slice(0, 10);
    case 'hourly':
      return iso.slice(0, 13);
    default:
      return refWeek(t);
  }
}

function reference(
  inputs: RetentionInput[],
  policy: RetentionPolicy,
  by: GroupField[],
): Map<string, { keep: boolean; reasons: string[] }> {
  const out = new Map<string, { keep: boolean; reasons: string[] }>();
  const groups = new Map<string, RetentionInput[]>();
  for (const s of inputs) {
    const key = [
      by.includes('host') ? s.snapshot.hostname : '',
      by.includes('paths') ? [...s.snapshot.paths].sort().join('\0') : '',
      by.includes('tags') ? [...s.snapshot.tags].sort().join('\0') : '',
    ].join('|');
    groups.set(key, [...(groups.get(key) ?? []), s]);
    out.set(s.id, { keep: false, reasons: [] });
  }
  const t = (s: RetentionInput) => Date.parse(s.snapshot.time);
  // "newer": later time, or equal time and greater id
  const newer = (a: RetentionInput, b: RetentionInput) =>
    t(a) > t(b) || (t(a) === t(b) && a.id > b.id);
  for (const members of groups.values()) {
    const add = (s: RetentionInput, reason: string) => {
      const d = out.get(s.id)!;
      d.keep = true;
      d.reasons.push(reason);
    };
    const sorted = [...members].sort((a, b) => (newer(a, b) ? -1 : 1));
    if (policy.last !== undefined)
      for (const s of sorted.slice(0, policy.last)) add(s, 'last snapshot');
    for (const kind of ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
      const n = policy[kind];
      if (n === undefined) continue;
      // newest snapshot of every period, then the n most recent periods
      const best = new Map<string, RetentionInput>();
      for (const s of members) {
        const p = refPeriod(kind, t(s));
        const cur = best.get(p);
        if (!cur || newer(s, cur)) best.set(p, s);
      }
      const recent = [...best.values()].sort((a, b) => (newer(a, b) ? -1 : 1)).slice(0, n);
      const chosen = new Set(recent.map((s) => s.id));
      for (const s of sorted) if (chosen.has(s.id)) add(s, `${kind} snapshot`);
    }
    if (policy.within) {
      const w = policy.within;
      const newest = new Date(t(sorted[0]!));
      const limit = Date.UTC(
        newest.getUTCFullYear() - w.years,
        newest.getUTCMonth() - w.months,
        newest.getUTCDate() - w.days,
        newest.getUTCHours() - w.hours,
        newest.getUTCMinutes(),
        newest.getUTCSeconds(),
        newest.getUTCMilliseconds(),
      );
      const text =
        `${w.years ? `${w.years}y` : ''}${w.months ? `${w.months}m` : ''}${w.days ? `${w.days}d` : ''}${w.hours ? `${w.hours}h` : ''}` ||
        '0h';
      for (const s of sorted) if (t(s) >= limit) add(s, `within ${text}`);
    }
    for (const list of policy.tags ?? []) {
      for (const s of sorted) {
        if (list.every((tag) => s.snapshot.tags.includes(tag))) add(s, `tag ${list.join(',')}`);
      }
    }
  }
  return out;
}

const START = Date.UTC(2020, 11, 20); // crosses a year end, ISO week 53 of 2020
const snapshotsArb = fc
  .array(
    fc.record({
      // clustered times: many share an hour, a day, a week...
      offset: fc.oneof(
        fc.integer({ min: 0, max: 40 * DAY }),
        fc.integer({ min: 0, max: 12 }).map((h) => h * HOUR),
        fc.integer({ min: 0, max: 800 * DAY }),
      ),
      host: fc.constantFrom('a', 'b'),
      paths: fc.constantFrom<string[]>(['/x'], ['/y'], ['/x', '/y']),
      tags: fc.subarray(['t1', 't2']),
    }),
    { maxLength: 40 },
  )
  .map((items) =>
    items.map((it, i) =>
      snap(i + 1, new Date(START + it.offset).toISOString(), {
        hostname: it.host,
        paths: it.paths,
        tags: it.tags,
      }),
    ),
  );

const count = fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined });
const durationArb: fc.Arbitrary<Duration> = fc.record({
  years: fc.integer({ min: 0, max: 1 }),
  months: fc.integer({ min: 0, max: 3 }),
  days: fc.integer({ min: 0, max: 40 }),
  hours: fc.integer({ min: 0, max: 30 }),
});
const policyArb: fc.Arbitrary<RetentionPolicy> = fc
  .record({
    last: count,
    hourly: count,
    daily: count,
    weekly: count,
    monthly: count,
    yearly: count,
    within: fc.option(durationArb, { nil: undefined }),
    tags: fc.option(fc.array(fc.subarray(['t1', 't2'], { minLength: 1 }), { maxLength: 2 }), {
      nil: undefined,
    }),
  })
  .map((p) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)));
const groupByArb = fc.subarray<GroupField>(['host', 'paths', 'tags']);

describe('retention model', () => {
  it('agrees with the reference model on random snapshots and policies', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, groupByArb, (inputs, policy, by) => {
        const actual = verdicts(inputs, policy, by);
        const expected = reference(inputs, policy, by);
        expect(actual.size).toBe(inputs.length);
        for (const [id, e] of expected) {
          const a = actual.get(id)!;
          expect(a.keep).toBe(e.keep);
          expect([...a.reasons].sort()).toEqual([...e.reasons].sort());
        }
      }),
      { numRuns: 400 },
    );
  });

  it('every group keeps its newest snapshot when any count rule is >= 1', () => {
    fc.assert(
      fc.property(snapshotsArb, groupByArb, fc.integer({ min: 1, max: 3 }), (inputs, by, n) => {
        for (const g of applyRetention(inputs, { monthly: n }, by)) {
          expect(g.decisions[0]!.keep).toBe(true);
        }
      }),
    );
  });
});
