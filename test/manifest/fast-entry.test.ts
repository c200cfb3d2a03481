import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWellFormedName } from '../../src/core/fs-names.js';
import { entryToWire } from '../../src/manifest/entry-codec.js';
import { encodeSimpleFileEntry, encodeSimpleFileEntryView } from '../../src/manifest/fast-entry.js';
import { pack } from '../../src/manifest/msgpack.js';
import { decodeEntry } from '../../src/manifest/tree-codec.js';
import type { Entry, FileEntry } from '../../src/manifest/types.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Integers around every msgpack width boundary. */
const uintArb = fc.oneof(
  fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffff_ffff),
  fc.integer({ min: 0, max: 0xffff_ffff }),
);
const nameArb = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 40 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
    fc.constantFrom(
      'a'.repeat(31),
      'a'.repeat(32),
      'é'.repeat(16),
      '日'.repeat(11),
      'x'.repeat(255),
      'x'.repeat(256),
    ),
  )
  .filter((n) => !n.includes('/') && !n.includes('\0') && n !== '.' && n !== '..');
const inlineArb = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc.constantFrom(255, 256, 65535, 65536, 70000).map((n) => new Uint8Array(n).fill(7)),
);
const fileArb: fc.Arbitrary<FileEntry> = fc
  .record({
    name: nameArb,
    mode: fc.integer({ min: 0, max: 0o7777 }),
    uid: uintArb,
    gid: uintArb,
    sec: fc.oneof(uintArb, fc.integer({ min: -2e9, max: -1 })),
    nsec: fc.integer({ min: 0, max: 999_999_999 }),
    inline: fc.option(inlineArb, { nil: undefined }),
  })
  .map(({ name, mode, uid, gid, sec, nsec, inline }) => ({
    kind: 'file' as const,
    name,
    mode,
    uid,
    gid,
    mtime: { sec, nsec },
    size: inline?.length ?? 0,
    chunks: [],
    ...(inline ? { inline } : {}),
  }));

describe('encodeSimpleFileEntry', () => {
  it('writes exactly the bytes msgpackr writes for the wire map', () => {
    fc.assert(
      fc.property(fileArb, (e) => {
        const fast = encodeSimpleFileEntry(e);
        const general = pack(entryToWire(e));
        if (fast === undefined) {
          // Only entries outside the simple case may fall back.
          expect(e.mtime.sec < 0 || !isWellFormedName(e.name)).toBe(true);
          return;
        }
        expect(hex(fast)).toBe(hex(general));
        expect(decodeEntry(fast, 'test')).toMatchObject({ name: e.name, size: e.size });
      }),
      { numRuns: 2000 },
    );
  });

  it('declines entries it does not handle', () => {
    const base = {
      kind: 'file' as const,
      name: 'f',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: { sec: 1, nsec: 2 },
      size: 5,
    };
    expect(encodeSimpleFileEntry({ ...base, chunks: [{ id: 'a'.repeat(64), size: 5 }] })).toBe(
      undefined,
    );
    expect(
      encodeSimpleFileEntry({ ...base, chunks: [], inline: new Uint8Array(5), hardlink: '1:2' }),
    ).toBe(undefined);
    expect(encodeSimpleFileEntry({ ...base, size: 2 ** 33, chunks: [] })).toBe(undefined);
    expect(
      encodeSimpleFileEntry({ ...base, kind: 'dir', tree: 'a'.repeat(64), files: 0, bytes: 0 }),
    ).toBe(undefined);
  });

  it('returns a copy the next call does not overwrite', () => {
    const e = (name: string): Entry => ({
      kind: 'file',
      name,
      mode: 0o644,
      uid: 1,
      gid: 1,
      mtime: { sec: 1, nsec: 1 },
      size: 1,
      chunks: [],
      inline: Uint8Array.of(1),
    });
    const a = encodeSimpleFileEntry(e('a'))!;
    const before = hex(a);
    encodeSimpleFileEntry(e('b'));
    expect(hex(a)).toBe(before);
    // The view form gives the same bytes without the copy: the next call reuses them.
    const view = encodeSimpleFileEntryView(e('a'))!;
    expect(hex(view)).toBe(before);
    encodeSimpleFileEntryView(e('b'));
    expect(hex(view)).not.toBe(before);
  });
});
