/**
 * The snapshot codec must never write a record it would refuse to read: one refused
 * record makes `snapshots`, `forget` and every later backup of the repository fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError, UsageError } from '../../src/core/errors.js';
import {
  decodeSnapshot,
  encodeSnapshot,
  packSnapshotUnchecked,
} from '../../src/manifest/snapshot-codec.js';
import type { Snapshot } from '../../src/manifest/types.js';
import { snapshotArb } from '../helpers/arbitraries.js';
import { sampleSnapshot } from '../helpers/entries.js';

const good: Snapshot = sampleSnapshot('aa'.repeat(32));

function decodes(s: Snapshot): boolean {
  try {
    decodeSnapshot(packSnapshotUnchecked(s), 'test');
    return true;
  } catch (err) {
    expect(err).toBeInstanceOf(FormatError);
    return false;
  }
}

function encodes(s: Snapshot): boolean {
  try {
    encodeSnapshot(s);
    return true;
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return false;
  }
}

describe('encodeSnapshot refuses what decodeSnapshot refuses', () => {
  const cases: Array<[string, Partial<Snapshot>, RegExp]> = [
    ['a tag with a space', { tags: ['a b'] }, /tags.*"a b"/],
    ['a tag with a comma', { tags: ['a,b'] }, /tags.*"a,b"/],
    ['a tag with a tab', { tags: ['a\tb'] }, /tags/],
    ['a tag with a newline', { tags: ['a\nb'] }, /tags/],
    ['a tag with a control character', { tags: ['a\x01'] }, /tags/],
    ['a tag with a no-break space', { tags: ['a\u00a0b'] }, /tags/],
    ['an empty tag', { tags: [''] }, /tags.*""/],
    ['a 257-character tag', { tags: ['x'.repeat(257)] }, /tags/],
    ['1001 tags', { tags: Array.from({ length: 1001 }, (_, i) => `t${i}`) }, /tags/],
    ['a 1025-character host', { hostname: 'h'.repeat(1025) }, /host.*1024/],
    ['a 1100-character host', { hostname: 'h'.repeat(1100) }, /host.*1024/],
    ['a 1025-character user', { username: 'u'.repeat(1025) }, /user.*1024/],
    ['a 257-character program', { program: 'p'.repeat(257) }, /program/],
    ['a 65537-character path', { paths: [`/${'p'.repeat(65_536)}`] }, /paths/],
    ['a bad time', { time: '2026-01-02 03:04:05' }, /time/],
    ['a time without milliseconds', { time: '2026-01-02T03:04:05Z' }, /time/],
    ['a bad tree id', { tree: 'xyz' }, /tree/],
    ['a short parent id', { parent: 'abcd' }, /parent/],
    ['a negative duration', { summary: { ...good.summary, durationMs: -1 } }, /summary.*ms/],
    ['a fractional byte count', { summary: { ...good.summary, bytes: 1.5 } }, /summary.*bytes/],
    ['an unsafe file count', { summary: { ...good.summary, files: 2 ** 53 } }, /summary.*files/],
  ];

  it.each(cases)('%s', (_name, change, message) => {
    const bad = { ...good, ...change };
    expect(decodes(bad)).toBe(false);
    expect(() => encodeSnapshot(bad)).toThrow(UsageError);
    expect(() => encodeSnapshot(bad)).toThrow(message);
  });

  it('names the value, shortened when it is long', () => {
    expect(() => encodeSnapshot({ ...good, tags: ['ok', 'a b'] })).toThrow(
      /field tags: bad tag "a b": a tag is 1 to 256 characters/,
    );
    let message = '';
    try {
      encodeSnapshot({ ...good, hostname: 'h'.repeat(1100) });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/field host: longer than 1024 characters: "hhh.*\(1100 characters\)/);
    expect(message.length).toBeLessThan(200);
  });

  it('agrees with the decoder at the limits and on arbitrary tags, hosts, users and durations (property)', () => {
    const edge: Snapshot = {
      ...good,
      hostname: 'h'.repeat(1024),
      username: 'u'.repeat(1024),
      tags: ['x'.repeat(256), 'v1.2:rc_3-é'],
      program: 'p'.repeat(256),
    };
    expect(decodeSnapshot(encodeSnapshot(edge), 'test')).toEqual(edge);
    for (const over of [{ hostname: 'h'.repeat(1025) }, { tags: ['x'.repeat(257)] }]) {
      expect(encodes({ ...edge, ...over })).toBe(decodes({ ...edge, ...over }));
    }
    const text = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.string({ minLength: 1000, maxLength: 1100 }),
    );
    fc.assert(
      fc.property(
        snapshotArb,
        fc.array(
          fc.oneof(fc.string({ maxLength: 10 }), fc.string({ minLength: 250, maxLength: 260 })),
          {
            maxLength: 4,
          },
        ),
        text,
        text,
        fc.integer({ min: -5, max: 5 }),
        (s, tags, hostname, username, durationMs) => {
          const t = { ...s, tags, hostname, username, summary: { ...s.summary, durationMs } };
          expect(encodes(t)).toBe(decodes(t));
        },
      ),
      { numRuns: 500 },
    );
  });
});
