import type { BigIntStats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { baseFields, fingerprint, tooRecentToCache } from '../../src/ops/source-stat.js';

const S = 1_000_000_000n;
const started = 1_700_000_000n * S + 500_000_000n;
const stat = (mtimeNs: bigint, ctimeNs = mtimeNs) =>
  ({
    mtimeNs,
    ctimeNs,
    mode: 0o100644n | 0o4000n,
    uid: 1000n,
    gid: 100n,
    dev: 1n,
    ino: 2n,
    size: 3n,
  }) as unknown as BigIntStats;

describe('tooRecentToCache', () => {
  it('trusts files changed well before the backup started', () => {
    expect(tooRecentToCache(stat(started - 10n * S), started)).toBe(false);
    expect(tooRecentToCache(stat(started - 101_000_000n), started)).toBe(false);
  });

  it('distrusts a nanosecond timestamp within 100 ms of the start, or after it', () => {
    expect(tooRecentToCache(stat(started - 99_000_000n), started)).toBe(true);
    expect(tooRecentToCache(stat(started + 5n * S), started)).toBe(true);
    // ctime alone is enough
    expect(tooRecentToCache(stat(started - 10n * S, started - 50_000_000n), started)).toBe(true);
  });

  it('gives whole-second timestamps a 2 s margin', () => {
    const whole = (started / S - 1n) * S; // 1.5 s before the start, on a second
    expect(tooRecentToCache(stat(whole), started)).toBe(true);
    expect(tooRecentToCache(stat(whole - 2n * S), started)).toBe(false);
  });
});

describe('baseFields and fingerprint', () => {
  it('keeps permission bits and nanosecond mtime', () => {
    const st = stat(-1n); // 1 ns before 1970
    expect(baseFields('f', st)).toEqual({
      name: 'f',
      mode: 0o4644,
      uid: 1000,
      gid: 100,
      mtime: { sec: -1, nsec: 999_999_999 },
    });
    expect(fingerprint(st)).toBe('1:2:3:-1:-1');
  });
});
