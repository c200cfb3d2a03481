/**
 * `parseTime` (`backup --time`): dates, times with or without seconds and milliseconds,
 * local time unless a zone is given; days that do not exist, local times skipped when
 * clocks go forward, offsets past 23:59 and other text are refused.
 */
import { describe, expect, it } from 'vitest';
import { parseTime } from '../../src/cli/parse.js';
import { UsageError } from '../../src/core/errors.js';

describe('parseTime', () => {
  it('reads local times, and UTC or an offset when given', () => {
    expect(parseTime('2026-11-24', '--time').getTime()).toBe(new Date(2026, 10, 24).getTime());
    expect(parseTime('2026-11-24 09:30', '--time').getTime()).toBe(
      new Date(2026, 10, 24, 9, 30).getTime(),
    );
    expect(parseTime('2026-11-24T09:30:05', '--time').getTime()).toBe(
      new Date(2026, 10, 24, 9, 30, 5).getTime(),
    );
    expect(parseTime('2026-11-24T09:30:05.5Z', '--time').toISOString()).toBe(
      '2026-11-24T09:30:05.500Z',
    );
    expect(parseTime('2026-11-24 09:30:00+02:00', '--time').toISOString()).toBe(
      '2026-11-24T07:30:00.000Z',
    );
    expect(parseTime('2026-11-24 09:30:00-0130', '--time').toISOString()).toBe(
      '2026-11-24T11:00:00.000Z',
    );
    expect(parseTime('0099-06-01T00:00Z', '--time').toISOString()).toBe('0099-06-01T00:00:00.000Z');
  });

  it('refuses days that do not exist, hours past 23, and other text', () => {
    for (const bad of [
      '2026-02-30',
      '2026-13-01',
      '2026-11-24 24:00',
      '2026-11-24 10:60',
      'yesterday',
      '24.11.2026',
      '2026-11-24 09:30+99:99',
      '2026-11-24 09:30+24:00',
      '2026-11-24 09:30+01:60',
      '',
    ]) {
      expect(() => parseTime(bad, '--time'), bad).toThrow(UsageError);
    }
    expect(() => parseTime('2026-02-30', '--time')).toThrow(/--time: "2026-02-30" is not a time/);
  });

  it('refuses a local time the clocks skipped; an hour lived twice is its first instant', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'Europe/Berlin';
    try {
      expect(() => parseTime('2026-03-29 02:30', '--time')).toThrow(/does not exist in local time/);
      expect(parseTime('2026-03-29 03:30', '--time').toISOString()).toBe(
        '2026-03-29T01:30:00.000Z',
      );
      expect(parseTime('2026-10-25 02:30', '--time').toISOString()).toBe(
        '2026-10-25T00:30:00.000Z',
      );
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
