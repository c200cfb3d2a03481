/** LeafBuilder writes a leaf in one buffer: the same bytes encodeLeaf gives. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTree, encodeEntry, encodeLeaf, LeafBuilder } from '../../src/manifest/tree-codec.js';
import { fileEntry } from '../helpers/entries.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function built(entries: Uint8Array[], capacity: number): Uint8Array {
  const b = new LeafBuilder(capacity);
  for (const e of entries) b.add(e);
  expect(b.count).toBe(entries.length);
  expect(b.entryBytes).toBe(entries.reduce((n, e) => n + e.length, 0));
  return b.finish();
}

describe('LeafBuilder', () => {
  it('gives the bytes encodeLeaf gives, from any starting room (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 5000 }),
        (entries, capacity) => {
          expect(hex(built(entries, capacity))).toBe(hex(encodeLeaf(entries)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('writes each array header form: 15, 16, 65535 and 65536 entries', () => {
    for (const n of [0, 15, 16, 65_535, 65_536]) {
      const entries = Array.from({ length: n }, (_, i) => Uint8Array.of(i & 0x7f));
      const want = Buffer.from(encodeLeaf(entries));
      expect(Buffer.from(built(entries, 0)).equals(want)).toBe(true);
      expect(Buffer.from(built(entries, 100)).equals(want)).toBe(true);
    }
  });

  it('copies entries in: a buffer reused after add does not change the leaf', () => {
    const scratch = new Uint8Array(encodeEntry(fileEntry('a', 0, Uint8Array.of(1, 2, 3))));
    const b = new LeafBuilder(0);
    b.add(scratch);
    scratch.set(encodeEntry(fileEntry('b', 0, Uint8Array.of(4, 5, 6))));
    b.add(scratch);
    const leaf = decodeTree(b.finish(), 'test');
    expect(leaf.kind === 'leaf' && leaf.entries.map((e) => e.name)).toEqual(['a', 'b']);
  });

  it('gives a leaf in a buffer of its own, from its start when the header is longest', () => {
    const entries = Array.from({ length: 65_536 }, () => Uint8Array.of(0xc0));
    const leaf = built(entries, 0);
    expect(leaf.byteOffset).toBe(0);
    const small = built([Uint8Array.of(0xc0)], 0);
    // Room for the longest header is kept in front: a one-byte header starts 4 bytes in.
    expect(small.byteOffset).toBe(4);
    expect(small.buffer.byteLength).toBeGreaterThanOrEqual(small.byteOffset + small.length);
  });
});
