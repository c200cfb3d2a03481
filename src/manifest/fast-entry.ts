/**
 * A hand-written encoder for the commonest entry: a regular file with inline data (or
 * empty), a UTF-8 name and small integers. A backup of many small files encodes one such
 * entry per file, and building a wire map for msgpackr allocates an object, an array and
 * a copy per entry. The bytes written here are exactly msgpackr's for the same wire map
 * (shortest forms throughout; a property test checks the two agree); any entry outside
 * the simple case returns undefined and goes the general way.
 */
import { isWellFormedName } from '../core/fs-names.js';
import type { Entry } from './types.js';

const UINT32_MAX = 0xffff_ffff;

/** Scratch space entries are written into before being copied out. */
let scratch = Buffer.allocUnsafe(64 * 1024);

function isUint32(n: number): boolean {
  return n >>> 0 === n;
}

/** Writes msgpack unsigned integer `n` (a uint32) at `at`; returns the next offset. */
function writeUint(b: Buffer, at: number, n: number): number {
  if (n < 0x80) {
    b[at] = n;
    return at + 1;
  }
  if (n < 0x100) {
    b[at] = 0xcc;
    b[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    b[at] = 0xcd;
    b[at + 1] = n >> 8;
    b[at + 2] = n & 0xff;
    return at + 3;
  }
  b[at] = 0xce;
  b.writeUInt32BE(n, at + 1);
  return at + 5;
}

/** Writes a one-letter fixstr key. */
function writeKey(b: Buffer, at: number, code: number): number {
  b[at] = 0xa1;
  b[at + 1] = code;
  return at + 2;
}

/**
 * The encoded bytes of `e` (equal to `encodeEntry(e)`), or undefined when `e` is not a
 * simple file entry: no chunks, no hard link, no extended attributes, a UTF-8 name,
 * uint32 fields and times.
 */
export function encodeSimpleFileEntry(e: Entry): Uint8Array | undefined {
  const view = encodeSimpleFileEntryView(e);
  return view && Uint8Array.prototype.slice.call(view);
}

/**
 * `encodeSimpleFileEntry` without the copy: a view of a scratch buffer that the next
 * call overwrites. For a caller that copies the bytes on at once (into a page being
 * filled), which saves an allocation and a copy per small file.
 */
export function encodeSimpleFileEntryView(e: Entry): Uint8Array | undefined {
  if (e.kind !== 'file' || e.chunks.length > 0 || e.hardlink !== undefined) return undefined;
  if (e.xattrs !== undefined && e.xattrs.length > 0) return undefined;
  const { mode, uid, gid, size, inline } = e;
  const { sec, nsec } = e.mtime;
  if (!isUint32(mode) || !isUint32(uid) || !isUint32(gid) || !isUint32(size)) return undefined;
  if (!isUint32(sec) || !isUint32(nsec) || size > UINT32_MAX) return undefined;
  if (!isWellFormedName(e.name)) return undefined;
  const name = e.name;
  // Worst case: header bytes (< 64) + name (3 bytes per UTF-16 unit) + inline data.
  const need = 64 + name.length * 3 + (inline?.length ?? 0);
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  const b = scratch;
  b[0] = 0x80 | (inline !== undefined ? 8 : 7);
  let at = writeKey(b, 1, 0x6e); // n
  // The name: reserve the shortest header its UTF-16 length allows, then fix it up.
  const header = name.length < 0x20 ? 1 : name.length < 0x100 ? 2 : 3;
  const len = b.write(name, at + header, 'utf8');
  const real = len < 0x20 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
  if (real === 5) return undefined;
  if (real !== header) b.copyWithin(at + real, at + header, at + header + len);
  if (real === 1) b[at] = 0xa0 | len;
  else if (real === 2) {
    b[at] = 0xd9;
    b[at + 1] = len;
  } else {
    b[at] = 0xda;
    b[at + 1] = len >> 8;
    b[at + 2] = len & 0xff;
  }
  at += real + len;
  at = writeKey(b, at, 0x74); // t: "f"
  b[at++] = 0xa1;
  b[at++] = 0x66;
  at = writeUint(b, writeKey(b, at, 0x6d), mode); // m
  at = writeUint(b, writeKey(b, at, 0x75), uid); // u
  at = writeUint(b, writeKey(b, at, 0x67), gid); // g
  b[at++] = 0xa2; // mt
  b[at++] = 0x6d;
  b[at++] = 0x74;
  b[at++] = 0x92;
  at = writeUint(b, at, sec);
  at = writeUint(b, at, nsec);
  at = writeUint(b, writeKey(b, at, 0x73), size); // s
  if (inline !== undefined) {
    at = writeKey(b, at, 0x64); // d
    const n = inline.length;
    if (n < 0x100) {
      b[at++] = 0xc4;
      b[at++] = n;
    } else if (n < 0x10000) {
      b[at++] = 0xc5;
      b[at++] = n >> 8;
      b[at++] = n & 0xff;
    } else {
      b[at++] = 0xc6;
      b.writeUInt32BE(n, at);
      at += 4;
    }
    b.set(inline, at);
    at += n;
  }
  return b.subarray(0, at);
}
