import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/core/errors.js';
import { pack } from '../../src/manifest/msgpack.js';
import { compareNames, sortNames } from '../../src/manifest/names.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/manifest/snapshot-codec.js';
import {
  decodeEntry,
  decodeTree,
  encodeEntry,
  encodeIndex,
  encodeTree,
} from '../../src/manifest/tree-codec.js';
import type { Entry, Snapshot, TreeNode } from '../../src/manifest/types.js';
import { fitXattrs } from '../../src/manifest/xattr-codec.js';
import { entryArb, snapshotArb } from '../helpers/arbitraries.js';
import { fileEntry, sampleSnapshot } from '../helpers/entries.js';

const ID_A = 'a'.repeat(64);
const ID_B = '0123456789abcdef'.repeat(4);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Normalises decoded values (Buffers) for deep equality with generated ones. */
function plain<T>(v: T): T {
  return JSON.parse(
    JSON.stringify(v, (_k, x) =>
      x instanceof Uint8Array || x?.type === 'Buffer'
        ? hex(x instanceof Uint8Array ? x : Buffer.from(x.data))
        : x,
    ),
  );
}

describe('golden bytes (the format is frozen: a change here breaks every repository)', () => {
  it('a file entry with chunks', () => {
    const e: Entry = {
      kind: 'file',
      name: 'a.txt',
      mode: 0o644,
      uid: 1000,
      gid: 100,
      mtime: { sec: 1_700_000_000, nsec: 5 },
      size: 10,
      chunks: [{ id: ID_A, size: 10 }],
    };
    expect(hex(encodeEntry(e))).toBe(
      '89a16ea5612e747874a174a166a16dcd01a4a175cd03e8a167' +
        '64a26d7492ce6553f10005a173' +
        '0aa163c420' +
        'aa'.repeat(32) +
        'a2637391' +
        '0a',
    );
  });
  it('an empty directory leaf', () => {
    expect(hex(encodeTree({ kind: 'leaf', entries: [] }))).toBe('82a17601a16590');
  });
  it('a directory entry, a symlink, an inline file', () => {
    const dir: Entry = {
      kind: 'dir',
      name: 'd',
      mode: 0o755,
      uid: 0,
      gid: 0,
      mtime: { sec: 0, nsec: 0 },
      tree: ID_B,
      files: 3,
      bytes: 300,
    };
    expect(hex(encodeEntry(dir))).toBe(
      '89a16ea164a174a164a16dcd01eda17500a16700a26d74920000a172c420' +
        ID_B +
        'a26e6603a26e62cd012c',
    );
    const link: Entry = {
      kind: 'symlink',
      name: 'l',
      mode: 0o777,
      uid: 0,
      gid: 0,
      mtime: { sec: -1, nsec: 999_999_999 },
      target: '../x',
    };
    expect(hex(encodeEntry(link))).toBe(
      '87a16ea16ca174a16ca16dcd01ffa17500a16700a26d7492ffce3b9ac9ffa16ca42e2e2f78',
    );
    const small: Entry = {
      kind: 'file',
      name: 's',
      mode: 0o600,
      uid: 0,
      gid: 0,
      mtime: { sec: 1, nsec: 0 },
      size: 2,
      chunks: [],
      inline: Uint8Array.of(104, 105),
    };
    expect(hex(encodeEntry(small))).toBe(
      '88a16ea173a174a166a16dcd0180a17500a16700a26d74920100a17302a164c4026869',
    );
  });
  it('extended attributes: key x last, [name, value] pairs in name order', () => {
    const file: Entry = {
      kind: 'file',
      name: 'e',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: { sec: 0, nsec: 0 },
      size: 0,
      chunks: [],
      xattrs: [
        { name: 'security.capability', value: Uint8Array.of(1, 2) },
        { name: 'user.a', value: Uint8Array.of() },
      ],
    };
    expect(hex(encodeEntry(file))).toBe(
      // 8 keys: n t m u g mt s, then x: an array of 2 pairs (str name, bin value).
      '88a16ea165a174a166a16dcd01a4a17500a16700a26d74920000a17300' +
        'a178' +
        '92' +
        `92b3${hex(Buffer.from('security.capability'))}c4020102` +
        `92a6${hex(Buffer.from('user.a'))}c400`,
    );
    // Without attributes the key is left out, not written empty.
    expect(hex(encodeEntry({ ...file, xattrs: [] }))).toBe(
      '87a16ea165a174a166a16dcd01a4a17500a16700a26d74920000a17300',
    );
  });
  it('an index node', () => {
    expect(
      hex(
        encodeIndex([
          { first: 'a', tree: ID_A, count: 2 },
          { first: 'm', tree: ID_B, count: 1 },
        ]),
      ),
    ).toBe('82a17601a1789293a161c420' + ID_A + '0293a16dc420' + ID_B + '01');
  });
  it('a snapshot record', () => {
    const s: Snapshot = sampleSnapshot(ID_A);
    const bytes = encodeSnapshot(s);
    expect(hex(bytes)).toBe(
      '89a17601a474696d65b8323032362d30312d30325430333a30343a30352e3637385aa4686f7374a168a475736572a175' +
        'a5706174687391a22f70a47461677391a174a474726565c420' +
        'aa'.repeat(32) +
        'a773756d6d6172798aa566696c657301a46469727302a5627974657303a36e657704a76368616e67656405a9756e6368616e67656406' +
        'a5626c6f627307a5616464656408a66572726f727300a26d7309a770726f6772616dab636169726e20302e312e30',
    );
    expect(decodeSnapshot(bytes, 'snap')).toEqual(s);
  });
});

describe('round trips (property)', () => {
  it('any entry decodes to itself and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const bytes = encodeEntry(e);
        const back = decodeEntry(bytes, 'test');
        expect(plain(back)).toEqual(plain(e));
        expect(hex(encodeEntry(back))).toBe(hex(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('any leaf of uniquely named entries round-trips deterministically', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entryArb, { selector: (e) => e.name, maxLength: 20 }),
        (entries) => {
          const sorted = sortNames(entries.map((e) => e.name)).map(
            (n) => entries.find((e) => e.name === n)!,
          );
          const node: TreeNode = { kind: 'leaf', entries: sorted };
          const bytes = encodeTree(node);
          const back = decodeTree(bytes, 'test');
          expect(plain(back)).toEqual(plain(node));
          expect(hex(encodeTree(back))).toBe(hex(bytes));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('any snapshot round-trips', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const bytes = encodeSnapshot(s);
        expect(decodeSnapshot(bytes, 'test')).toEqual(s);
        expect(hex(encodeSnapshot(decodeSnapshot(bytes, 'test')))).toBe(hex(bytes));
      }),
      { numRuns: 300 },
    );
  });
});

describe('fitXattrs: what backup leaves out of a tree (the reader would refuse it)', () => {
  it('keeps what Linux gives, leaves out names without a namespace and values over 64 KiB', () => {
    const v = (n: number) => new Uint8Array(n);
    const { kept, left } = fitXattrs([
      { name: 'com.apple.ResourceFork', value: v(70_000) },
      { name: 'nodot', value: v(1) },
      { name: 'user.fine', value: v(65_536) },
      { name: `user.${'n'.repeat(251)}`, value: v(1) },
    ]);
    expect(kept.map((a) => a.name)).toEqual(['user.fine']);
    expect(left).toEqual([
      'com.apple.ResourceFork: value of 70000 bytes, over 64 KiB',
      'nodot: name "nodot" has no namespace',
      `user.${'n'.repeat(251)}: name of 256 bytes`,
    ]);
  });
  it('stops at 4 MiB of values in all', () => {
    const list = Array.from({ length: 70 }, (_, i) => ({
      name: `user.v${String(i).padStart(2, '0')}`,
      value: new Uint8Array(65_536),
    }));
    const { kept, left } = fitXattrs(list);
    expect(kept).toHaveLength(64);
    expect(left).toEqual(list.slice(64).map((a) => `${a.name}: values over 4 MiB in all`));
  });
  it('stops at 64 KiB of names in all', () => {
    const list = Array.from({ length: 300 }, (_, i) => ({
      name: `user.${String(i).padStart(3, '0')}${'x'.repeat(240)}`,
      value: new Uint8Array(0),
    }));
    const { kept, left } = fitXattrs(list);
    // 248 bytes and a NUL each: 263 fit in 65,536.
    expect(kept).toHaveLength(263);
    expect(left).toHaveLength(37);
    expect(left[0]).toMatch(/names over 64 KiB/);
    expect(() =>
      decodeEntry(encodeEntry({ ...fileEntry('f'), xattrs: kept } as Entry), 'tree 1'),
    ).not.toThrow();
  });
});

describe('names sort by UTF-8 bytes', () => {
  it('orders astral characters after U+E000-U+FFFF (unlike UTF-16)', () => {
    expect(compareNames('\u{1F600}', '\uFF00')).toBeGreaterThan(0);
    expect('\u{1F600}' < '\uFF00').toBe(true); // JS string order differs
    expect(sortNames(['b', '\u{1F600}', 'a', '\uFF00'])).toEqual(['a', 'b', '\uFF00', '\u{1F600}']);
  });
});

describe('hostile input is a FormatError naming the object, never a crash', () => {
  const base = { n: 'x', t: 'f', m: 0o644, u: 0, g: 0, mt: [0, 0], s: 0 };
  const V = Buffer.from('v');
  const leaf = (entries: unknown[]) => pack({ v: 1, e: entries });
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty name', leaf([{ ...base, n: '' }]), /empty name/],
    ['dot-dot', leaf([{ ...base, n: '..' }]), /not allowed/],
    ['dot', leaf([{ ...base, n: '.' }]), /not allowed/],
    ['slash', leaf([{ ...base, n: 'a/b' }]), /holds '\/'/],
    ['NUL', leaf([{ ...base, n: 'a\0b' }]), /holds NUL/],
    ['unknown kind', leaf([{ ...base, t: 'z' }]), /unknown entry kind/],
    ['wrong type', leaf([{ ...base, m: 'x' }]), /not an integer/],
    ['absurd mode', leaf([{ ...base, m: 0o17777 }]), /out of range/],
    ['negative size', leaf([{ ...base, s: -1 }]), /out of range/],
    ['size without content', leaf([{ ...base, s: 5 }]), /no content/],
    [
      'chunk sizes disagree',
      leaf([{ ...base, s: 5, c: Buffer.alloc(32), cs: [4] }]),
      /add up to 4/,
    ],
    [
      'ids and sizes disagree',
      leaf([{ ...base, s: 5, c: Buffer.alloc(64), cs: [5] }]),
      /do not match/,
    ],
    [
      'absurd chunk size',
      leaf([{ ...base, s: 2 ** 30, c: Buffer.alloc(32), cs: [2 ** 30] }]),
      /not a chunk size/,
    ],
    [
      'inline and chunks',
      leaf([{ ...base, s: 1, c: Buffer.alloc(32), cs: [1], d: Buffer.from('x') }]),
      /either inline data or chunks/,
    ],
    ['inline size mismatch', leaf([{ ...base, s: 3, d: Buffer.from('x') }]), /holds 1 bytes/],
    ['dir field on file', leaf([{ ...base, r: Buffer.alloc(32) }]), /not allowed on a file/],
    ['unknown field', leaf([{ ...base, zz: 1 }]), /unknown field/],
    [
      'short id',
      leaf([{ n: 'x', t: 'd', m: 0, u: 0, g: 0, mt: [0, 0], r: Buffer.alloc(5), nf: 0, nb: 0 }]),
      /32 bytes/,
    ],
    ['duplicate names', leaf([base, base]), /strict name order/],
    [
      'unsorted names',
      leaf([
        { ...base, n: 'b' },
        { ...base, n: 'a' },
      ]),
      /strict name order/,
    ],
    ['bad mtime', leaf([{ ...base, mt: [0, 2e9] }]), /nanoseconds/],
    ['xattrs not an array', leaf([{ ...base, x: 5 }]), /field x: not an array/],
    ['empty xattrs', leaf([{ ...base, x: [] }]), /field x: empty/],
    ['xattr not a pair', leaf([{ ...base, x: [['user.a']] }]), /not a \[name, value\] pair/],
    ['xattr without namespace', leaf([{ ...base, x: [['abc', V]] }]), /has no namespace/],
    ['xattr name with NUL', leaf([{ ...base, x: [['user.a\0b', V]] }]), /holds NUL/],
    [
      'xattr name too long',
      leaf([{ ...base, x: [[`user.${'a'.repeat(300)}`, V]] }]),
      /longer than 255/,
    ],
    [
      'xattr name as bin though UTF-8',
      leaf([{ ...base, x: [[Buffer.from('user.a'), V]] }]),
      /must be a string/,
    ],
    ['xattr value not binary', leaf([{ ...base, x: [['user.a', 'v']] }]), /value is not binary/],
    [
      'xattr value over 64 KiB',
      leaf([{ ...base, x: [['user.a', Buffer.alloc(65_537)]] }]),
      /value of 65537 bytes, over 64 KiB/,
    ],
    [
      'xattrs out of order',
      leaf([
        {
          ...base,
          x: [
            ['user.b', V],
            ['user.a', V],
          ],
        },
      ]),
      /"user.a" is not after "user.b"/,
    ],
    [
      'duplicate xattrs',
      leaf([
        {
          ...base,
          x: [
            ['user.a', V],
            ['user.a', V],
          ],
        },
      ]),
      /is not after/,
    ],
    ['not a map', pack([1, 2]), /must be a map/],
    ['bad version', pack({ v: 2, e: [] }), /unsupported tree version/],
    ['both e and x', pack({ v: 1, e: [], x: [] }), /fields v and e, or v and x/],
    ['empty index', pack({ v: 1, x: [] }), /non-empty/],
    ['index with bad count', pack({ v: 1, x: [['a', Buffer.alloc(32), 0]] }), /bad count/],
    ['truncated', leaf([base]).subarray(0, 10), /not valid MessagePack/],
    ['trailing bytes', Buffer.concat([leaf([]), Buffer.from([0])]), /not valid MessagePack/],
    ['reserved byte', Buffer.from([0xc1]), /./],
    [
      'huge declared array',
      Buffer.from([0x82, 0xa1, 0x76, 0x01, 0xa1, 0x65, 0xdd, 0xff, 0xff, 0xff, 0xff]),
      /not valid MessagePack/,
    ],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      let caught: unknown;
      try {
        decodeTree(bytes, 'tree 1234');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(FormatError);
      expect((caught as FormatError).code).toBe('format');
      expect((caught as Error).message).toMatch(/^tree 1234/);
      expect((caught as Error).message).toMatch(message);
    });
  }

  it('names the entry once its name is read, and only the tree before', () => {
    const message = (entry: unknown) => {
      try {
        decodeTree(leaf([entry]), 'tree 1234');
      } catch (err) {
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(message({ ...base, zz: 1 })).toBe('tree 1234: unknown field "zz"');
    expect(message({ ...base, n: undefined })).toBe('tree 1234: field n: missing');
    expect(message({ ...base, n: 'a/b' })).toBe(`tree 1234: name "a/b" holds '/'`);
    expect(message({ ...base, m: 'x' })).toBe('tree 1234 entry "x": field m: not an integer');
    expect(message({ ...base, mt: [0, 2e9] })).toBe(
      'tree 1234 entry "x": field mt: nanoseconds out of range',
    );
    expect(message({ ...base, mt: 5 })).toBe(
      'tree 1234 entry "x": field mt: expected [seconds, nanoseconds]',
    );
    expect(message({ ...base, l: 'y' })).toBe(
      'tree 1234 entry "x": field l: not allowed on a file',
    );
    expect(message({ ...base, t: 'l', s: undefined, l: '' })).toBe(
      'tree 1234 entry "x": field l: empty or holds NUL',
    );
    expect(message({ ...base, x: 5 })).toMatch(/^tree 1234 entry "x": field x: not an array/);
  });

  it('random bytes never crash the decoders (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const decode of [
          (b: Uint8Array) => decodeTree(b, 't'),
          (b: Uint8Array) => decodeSnapshot(b, 's'),
        ]) {
          try {
            decode(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(FormatError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid trees never crash the decoder (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entryArb, { selector: (e) => e.name, minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (entries, pos, byte) => {
          const sorted = sortNames(entries.map((e) => e.name)).map(
            (n) => entries.find((e) => e.name === n)!,
          );
          const bytes = Buffer.from(encodeTree({ kind: 'leaf', entries: sorted }));
          bytes[pos % bytes.length] = byte;
          try {
            decodeTree(bytes, 't');
          } catch (err) {
            expect(err).toBeInstanceOf(FormatError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
