/**
 * Tree nodes on the wire:
 *   leaf  = {v: 1, e: [entry, ...]}               entries sorted by name (bytes)
 *   index = {v: 1, x: [[first, tree, count], ...]} children sorted by first name
 * A leaf is assembled from already-encoded entries (the backup encodes each entry once
 * and decides page boundaries on its encoded size), so `encodeLeaf` takes bytes.
 */
import { FormatError } from '../core/errors.js';
import { idFromBytes, idToBytes } from '../core/ids.js';
import { entryFromWire, entryToWire } from './entry-codec.js';
import { encodeSimpleFileEntry, encodeSimpleFileEntryView } from './fast-entry.js';
import { isPlainObject } from './fields.js';
import { pack, unpack } from './msgpack.js';
import { checkName, compareNames, textFromWire, textToWire } from './names.js';
import { takePageBuffer } from './page-buffers.js';
import type { Entry, PageRef, TreeNode } from './types.js';

/** Current tree node format version. */
export const TREE_VERSION = 1;

/** Encodes one entry on its own (the unit leaves are built from). */
export function encodeEntry(entry: Entry): Uint8Array {
  return encodeSimpleFileEntry(entry) ?? pack(entryToWire(entry));
}

/**
 * `encodeEntry`, possibly as a view of a scratch buffer that the next call overwrites
 * (see encodeSimpleFileEntryView): copy it, or use it before encoding another.
 */
export function encodeEntryView(entry: Entry): Uint8Array {
  return encodeSimpleFileEntryView(entry) ?? pack(entryToWire(entry));
}

/** The msgpack array header for `n` items, in the shortest form. */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x90 | n);
  if (n < 0x10000) return Uint8Array.of(0xdc, n >> 8, n & 0xff);
  return Uint8Array.of(0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

// {v: 1, e: ...} — fixmap of 2, "v", 1, "e"
const LEAF_PREFIX = Uint8Array.of(0x82, 0xa1, 0x76, TREE_VERSION, 0xa1, 0x65);

/** A leaf node from entries already encoded with `encodeEntry`, in name order. */
export function encodeLeaf(encodedEntries: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat([LEAF_PREFIX, arrayHeader(encodedEntries.length), ...encodedEntries]);
}

/** Bytes a LeafBuilder keeps in front of the entries: the prefix and the longest array header. */
const LEAF_HEAD = LEAF_PREFIX.length + 5;

/**
 * A leaf built in one buffer as entries come (the bytes `encodeLeaf` gives for them):
 * each entry is copied in once, room for the prefix and the array header is kept in
 * front, and `finish` writes them there. The leaf is a view of a buffer of its own,
 * which the caller may hand to another thread without a copy.
 */
export class LeafBuilder {
  private buffer: Buffer;
  private used = LEAF_HEAD;
  private entries = 0;

  /** `capacity`: entry bytes to make room for at first (it grows as needed). */
  constructor(capacity = 16 * 1024) {
    this.buffer = takePageBuffer(LEAF_HEAD + capacity);
  }

  /** Entries added so far. */
  get count(): number {
    return this.entries;
  }

  /** Bytes of the entries added so far. */
  get entryBytes(): number {
    return this.used - LEAF_HEAD;
  }

  /** Appends one encoded entry (copied: `bytes` may be reused after the call). */
  add(bytes: Uint8Array): void {
    const need = this.used + bytes.length;
    if (need > this.buffer.length) {
      const grown = takePageBuffer(Math.max(need, this.buffer.length * 2));
      this.buffer.copy(grown, LEAF_HEAD, LEAF_HEAD, this.used);
      this.buffer = grown;
    }
    this.buffer.set(bytes, this.used);
    this.used = need;
    this.entries++;
  }

  /** The leaf node's bytes; the builder must not be used afterwards. */
  finish(): Uint8Array {
    const header = arrayHeader(this.entries);
    const start = LEAF_HEAD - header.length - LEAF_PREFIX.length;
    this.buffer.set(LEAF_PREFIX, start);
    this.buffer.set(header, start + LEAF_PREFIX.length);
    return this.buffer.subarray(start, this.used);
  }
}

/** An index node over pages, in name order. */
export function encodeIndex(pages: readonly PageRef[]): Uint8Array {
  return pack({
    v: TREE_VERSION,
    x: pages.map((p) => [textToWire(p.first), idToBytes(p.tree), p.count]),
  });
}

/** Encodes a whole node (used for tests and small trees; backup uses encodeLeaf). */
export function encodeTree(node: TreeNode): Uint8Array {
  return node.kind === 'leaf' ? encodeLeaf(node.entries.map(encodeEntry)) : encodeIndex(node.pages);
}

/** Decodes and validates a tree node read from object `source`. */
export function decodeTree(bytes: Uint8Array, source: string): TreeNode {
  const value = unpack(bytes, source);
  if (!isPlainObject(value)) throw new FormatError(source, 'a tree node must be a map');
  const keys = Object.keys(value).sort().join(',');
  if (value.v !== TREE_VERSION) {
    throw new FormatError(source, `unsupported tree version ${JSON.stringify(value.v)}`);
  }
  if (keys === 'e,v') return { kind: 'leaf', entries: decodeEntries(value.e, source) };
  if (keys === 'v,x') return { kind: 'index', pages: decodePages(value.x, source) };
  throw new FormatError(source, `a tree node has fields v and e, or v and x; got ${keys}`);
}

function decodeEntries(value: unknown, source: string): Entry[] {
  if (!Array.isArray(value)) throw new FormatError(source, 'field e: not an array');
  const entries = value.map((w) => entryFromWire(w, source));
  for (let i = 1; i < entries.length; i++) {
    if (compareNames(entries[i - 1]!.name, entries[i]!.name) >= 0) {
      throw new FormatError(
        source,
        `entries not in strict name order at ${JSON.stringify(entries[i]!.name)}`,
      );
    }
  }
  return entries;
}

function decodePages(value: unknown, source: string): PageRef[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new FormatError(source, 'field x: not a non-empty array');
  }
  const pages = value.map((item, i): PageRef => {
    if (!Array.isArray(item) || item.length !== 3) {
      throw new FormatError(source, `field x[${i}]: expected [first, tree, count]`);
    }
    const first = textFromWire(item[0], source, `x[${i}]`, 4096);
    const [, tree, count] = item;
    checkName(first, source);
    if (!(tree instanceof Uint8Array)) throw new FormatError(source, `field x[${i}]: bad tree id`);
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
      throw new FormatError(source, `field x[${i}]: bad count`);
    }
    return { first, tree: idFromBytes(tree, source), count };
  });
  for (let i = 1; i < pages.length; i++) {
    if (compareNames(pages[i - 1]!.first, pages[i]!.first) >= 0) {
      throw new FormatError(source, 'index pages not in strict name order');
    }
  }
  return pages;
}

/** Decodes one entry encoded with `encodeEntry` (e.g. from a local cache). */
export function decodeEntry(bytes: Uint8Array, source: string): Entry {
  return entryFromWire(unpack(bytes, source), source);
}
