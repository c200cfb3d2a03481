/**
 * Names that are not valid UTF-8: their wire form (str, or bin of the exact bytes), their
 * validation on bytes, and tree order by bytes.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/core/errors.js';
import { nameFromBytes, nameToBytes } from '../../src/core/fs-names.js';
import { pack, unpack } from '../../src/manifest/msgpack.js';
import { compareNames, nameProblem, sortNames } from '../../src/manifest/names.js';
import { nameHash } from '../../src/manifest/paging.js';
import {
  decodeEntry,
  decodeTree,
  encodeEntry,
  encodeIndex,
  encodeTree,
} from '../../src/manifest/tree-codec.js';
import type { Entry } from '../../src/manifest/types.js';

const ID_A = 'a'.repeat(64);
const base = { mode: 0o644, uid: 1, gid: 2, mtime: { sec: 1, nsec: 0 } };
const file = (name: string): Entry => ({ ...base, kind: 'file', name, size: 0, chunks: [] });
/** A name from raw bytes. */
const raw = (...bytes: Array<number | string>) =>
  nameFromBytes(
    Buffer.concat(bytes.map((b) => (typeof b === 'string' ? Buffer.from(b) : Buffer.of(b)))),
  );
/** The wire map of an empty file entry whose name field is `n`. */
const wireWithName = (n: unknown) => pack({ n, t: 'f', m: 0o644, u: 1, g: 2, mt: [1, 0], s: 0 });

describe('entry names on the wire', () => {
  it('a valid UTF-8 name stays a msgpack str (existing bytes unchanged)', () => {
    const bytes = encodeEntry(file('é'));
    expect(Buffer.from(bytes).subarray(0, 6).toString('hex')).toBe('87a16ea2c3a9');
  });

  it('a name that is not UTF-8 is a msgpack bin of its exact bytes and decodes back', () => {
    const name = raw('bad-', 0xff, 0xfe, '.txt');
    const bytes = encodeEntry(file(name));
    // fixmap, "n", bin8 of 10 bytes: 62 61 64 2d ff fe 2e 74 78 74
    expect(Buffer.from(bytes).subarray(0, 15).toString('hex')).toBe(
      '87a16ec40a6261642dfffe2e747874',
    );
    const back = decodeEntry(bytes, 'test');
    expect(back.name).toBe(name);
    expect(nameToBytes(back.name)).toEqual(
      Buffer.from([...Buffer.from('bad-'), 0xff, 0xfe, ...Buffer.from('.txt')]),
    );
  });

  it('refuses a bin name that is valid UTF-8 (each name has one encoding)', () => {
    expect(() => decodeEntry(wireWithName(Buffer.from('plain')), 'test')).toThrow(
      /valid UTF-8 must be a string/,
    );
    expect(() => decodeEntry(wireWithName(Buffer.from('é')), 'test')).toThrow(FormatError);
  });

  it('validates bin names on their bytes: no /, NUL, . or .., not empty, at most 1024 bytes', () => {
    const bad = [
      Buffer.of(0x61, 0x2f, 0xff), // 'a/\xff'
      Buffer.of(0xff, 0x00),
      Buffer.of(),
      Buffer.alloc(1025, 0xff),
    ];
    for (const b of bad) expect(() => decodeEntry(wireWithName(b), 'test')).toThrow(FormatError);
    // '.' and '..' are ASCII, so as bin they are refused as valid UTF-8 already.
    expect(() => decodeEntry(wireWithName(Buffer.from('..')), 'test')).toThrow(FormatError);
    expect(decodeEntry(wireWithName(Buffer.alloc(1024, 0xff)), 'test').name).toHaveLength(1024);
    expect(nameProblem(raw(0xff, '/x'))).toMatch(/holds '\/'/);
    expect(nameProblem(raw('..', 0xff))).toBeUndefined();
  });

  it('refuses non-canonical names: escapes forming valid UTF-8, stray surrogates', () => {
    expect(nameProblem('\udcc3\udca9')).toMatch(/canonical/);
    expect(nameProblem('a\ud800')).toMatch(/canonical/);
    expect(nameProblem(raw(0xc3, 0xa9))).toBeUndefined(); // that is just 'é'
  });

  it('a symlink target that is not UTF-8 is a bin too', () => {
    const target = raw('../x-', 0x80);
    const e: Entry = { ...base, kind: 'symlink', name: 'l', target };
    const back = decodeEntry(encodeEntry(e), 'test');
    expect(back).toEqual(e);
    const wire = unpack(encodeEntry(e), 'test') as { l: unknown };
    expect(wire.l).toBeInstanceOf(Uint8Array);
  });

  it('index nodes carry a non-UTF-8 first name as bin', () => {
    const first = raw('p', 0xff);
    const node = decodeTree(encodeIndex([{ first, tree: ID_A, count: 3 }]), 'test');
    expect(node).toEqual({ kind: 'index', pages: [{ first, tree: ID_A, count: 3 }] });
  });

  it('random byte names round-trip through the entry codec (property)', () => {
    const byteName = fc
      .uint8Array({ minLength: 1, maxLength: 40 })
      .filter((b) => !b.includes(0x2f) && !b.includes(0))
      .map((b) => nameFromBytes(b))
      .filter((n) => n !== '.' && n !== '..');
    fc.assert(
      fc.property(byteName, (name) => {
        expect(nameProblem(name)).toBeUndefined();
        const back = decodeEntry(encodeEntry(file(name)), 'test');
        expect(nameToBytes(back.name)).toEqual(nameToBytes(name));
        expect(back.name).toBe(name);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('tree order and paging use the bytes', () => {
  it('sorts by raw bytes: 0x80 < é (c3 a9) < ÿ (c3 bf) < 0xff', () => {
    const names = [raw(0xff), 'ÿ', raw(0x80), 'é', 'z', raw('z', 0xe9)];
    expect(sortNames(names).map((n) => nameToBytes(n).toString('hex'))).toEqual([
      '7a',
      '7ae9',
      '80',
      'c3a9',
      'c3bf',
      'ff',
    ]);
    expect(compareNames(raw(0x80), 'é')).toBeLessThan(0);
    expect(compareNames(raw(0xff), 'ÿ')).toBeGreaterThan(0);
  });

  it('leaves with bin names decode in order; out of byte order is refused', () => {
    const entries = [file('é'), file(raw(0xff))];
    const node = decodeTree(encodeTree({ kind: 'leaf', entries }), 'test');
    expect(node).toEqual({ kind: 'leaf', entries });
    const reversed = encodeTree({ kind: 'leaf', entries: [...entries].reverse() });
    expect(() => decodeTree(reversed, 'test')).toThrow(/strict name order/);
  });

  it('the boundary hash is over the raw bytes (the UTF-8 bytes for a plain name)', () => {
    const h = (b: Buffer) => createHash('sha256').update(b).digest().readUInt32BE(0);
    expect(nameHash('é')).toBe(h(Buffer.from('é')));
    expect(nameHash(raw(0xff, 'a'))).toBe(h(Buffer.of(0xff, 0x61)));
    expect(nameHash(raw(0xff))).not.toBe(nameHash(raw(0xfe)));
  });
});

describe('compareNames fast path', () => {
  it('orders exactly as the names bytes do', () => {
    const sign = (n: number) => Math.sign(n);
    const nameArb = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => nameFromBytes(b)),
      fc.constantFrom('a', 'ab', '\uffff', '\u{10000}', '\ue000', 'a\u{1f600}', 'a\uffff'),
    );
    fc.assert(
      fc.property(nameArb, nameArb, nameArb, (p, a, b) => {
        for (const [x, y] of [
          [a, b],
          [p + a, p + b],
          [a + p, b + p],
        ] as const) {
          const bytes = Buffer.compare(nameToBytes(x), nameToBytes(y));
          expect(sign(compareNames(x, y))).toBe(bytes);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
