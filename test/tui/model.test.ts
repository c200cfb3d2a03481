import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/manifest/types.js';
import type { SnapshotRef } from '../../src/repo/snapshots.js';
import {
  cell,
  fitText,
  formatBytes,
  formatDuration,
  formatMode,
  printable,
  textWidth,
} from '../../src/tui/format.js';
import { arrange } from '../../src/tui/model/arrange.js';
import type { Item } from '../../src/tui/model/items.js';
import { hexDump, isBinary, toDisplayLines } from '../../src/tui/model/preview.js';
import { clampCursor, scrollOffset } from '../../src/tui/model/scroll.js';
import { filterSnapshots } from '../../src/tui/model/snapshot-filter.js';

describe('scrolling', () => {
  it('keeps the cursor inside the window, within the list, moving only as needed (property)', () => {
    fc.assert(
      fc.property(
        fc.nat(500),
        fc.nat(600),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: -5, max: 700 }),
        (count, offset, height, wanted) => {
          const cursor = clampCursor(wanted, count);
          const first = scrollOffset(cursor, offset, height, count);
          expect(first).toBeGreaterThanOrEqual(0);
          if (count === 0) return;
          expect(cursor).toBeGreaterThanOrEqual(0);
          expect(cursor).toBeLessThan(count);
          expect(cursor).toBeGreaterThanOrEqual(first);
          expect(cursor).toBeLessThan(first + height);
          expect(first).toBeLessThanOrEqual(Math.max(0, count - height));
          // A window that already showed the cursor (and fits) does not move.
          if (offset <= cursor && cursor < offset + height && offset <= count - height) {
            expect(first).toBe(offset);
          }
        },
      ),
    );
  });
});

function file(name: string, size: number, sec: number): Item {
  const entry: Entry = {
    kind: 'file',
    name,
    size,
    chunks: [],
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime: { sec, nsec: 0 },
  };
  return { entry };
}

describe('arrange', () => {
  const items = [file('a', 30, 3), file('b', 10, 1), file('c', 20, 2), file('d', 20, 5)];
  const names = (rows: readonly Item[]) => rows.map((r) => r.entry.name);
  it('sorts by name (as listed), size (largest first) or time (newest first), stable', () => {
    const base = { reverse: false, query: '' };
    expect(arrange(items, { ...base, sort: 'name' })).toBe(items);
    expect(names(arrange(items, { ...base, sort: 'size' }))).toEqual(['a', 'c', 'd', 'b']);
    expect(names(arrange(items, { ...base, sort: 'time' }))).toEqual(['d', 'a', 'c', 'b']);
    expect(names(arrange(items, { ...base, sort: 'size', reverse: true }))).toEqual([
      'b',
      'c',
      'd',
      'a',
    ]);
    expect(names(arrange(items, { ...base, sort: 'name', reverse: true }))).toEqual([
      'd',
      'c',
      'b',
      'a',
    ]);
  });
  it('narrows by a case-insensitive name search and a filter', () => {
    const more = [...items, file('Alpha.TXT', 1, 1), file('beta.txt', 1, 1)];
    expect(names(arrange(more, { sort: 'name', reverse: false, query: 'TXT' }))).toEqual([
      'Alpha.TXT',
      'beta.txt',
    ]);
    const keep = (it: Item) => it.entry.name !== 'b';
    expect(names(arrange(items, { sort: 'name', reverse: false, query: '', keep }))).toEqual([
      'a',
      'c',
      'd',
    ]);
  });
});

describe('snapshot filter', () => {
  const ref = (id: string, time: string, hostname: string, tags: string[]): SnapshotRef =>
    ({
      id,
      snapshot: { time, hostname, username: 'u', paths: ['/home/u/src'], tags },
    }) as unknown as SnapshotRef;
  const refs = [
    ref('aaaa1111', '2024-01-01T00:00:00.000Z', 'laptop', ['daily']),
    ref('bbbb2222', '2024-02-01T00:00:00.000Z', 'server', ['weekly', 'release']),
    ref('cccc3333', '2024-03-01T00:00:00.000Z', 'laptop', ['weekly']),
  ];
  const ids = (f: string) => filterSnapshots(refs, f).map((r) => r.id);
  it('lists newest first and matches tag:, host: and plain words (all must match)', () => {
    expect(ids('')).toEqual(['cccc3333', 'bbbb2222', 'aaaa1111']);
    expect(ids('tag:week')).toEqual(['cccc3333', 'bbbb2222']);
    expect(ids('host:LAPTOP')).toEqual(['cccc3333', 'aaaa1111']);
    expect(ids('host:laptop tag:weekly')).toEqual(['cccc3333']);
    expect(ids('release')).toEqual(['bbbb2222']);
    expect(ids('bbbb')).toEqual(['bbbb2222']);
    expect(ids('src')).toHaveLength(3);
    expect(ids('nothing-like-this')).toEqual([]);
  });
});

describe('preview decoding', () => {
  it('tells text from binary, allowing a character cut at the limit', () => {
    expect(isBinary(Buffer.from('hello\n'))).toBe(false);
    expect(isBinary(Buffer.from('a\0b'))).toBe(true);
    expect(isBinary(Buffer.from([0xff, 0xfe, 0x41]))).toBe(true);
    const euro = Buffer.from('price: €');
    expect(isBinary(euro.subarray(0, euro.length - 1), true)).toBe(false);
    expect(isBinary(euro.subarray(0, euro.length - 1), false)).toBe(true);
  });
  it('expands tabs and neutralises control characters', () => {
    expect(toDisplayLines('a\tb\r\nx\x1b[2Jy\n')).toEqual(['a       b', 'x?[2Jy']);
    expect(hexDump(Buffer.from('AB\0'))[0]).toBe(`00000000  41 42 00${' '.repeat(39)}  AB.`);
  });
});

describe('format', () => {
  it('formats sizes, durations and modes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MiB');
    expect(formatDuration(62_000)).toBe('1:02');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(formatMode('dir', 0o755)).toBe('drwxr-xr-x');
    expect(formatMode('file', 0o4755)).toBe('-rwsr-xr-x');
    expect(formatMode('dir', 0o1777)).toBe('drwxrwxrwt');
    expect(formatMode('file', 0o2644)).toBe('-rw-r-Sr--');
  });
  it('fits text into columns by display width, wide characters included', () => {
    expect(cell('12345', 3)).toBe('12…');
    expect(cell('7', 3, 'right')).toBe('  7');
    expect(textWidth('日本')).toBe(4);
    expect(textWidth('e\u0301')).toBe(1);
    expect(fitText('日本語のファイル', 7)).toBe('日本語…');
    expect(textWidth(fitText('日本語のファイル', 8))).toBe(8);
    expect(fitText('ab', 4, 'right')).toBe('  ab');
    expect(printable('a\nb\x1b')).toBe('a?b?');
  });
});
