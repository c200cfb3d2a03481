/**
 * Entry <-> msgpack map. Wire keys are short and always written in this order:
 *   n name, t kind, m mode, u uid, g gid, mt [sec, nsec],
 *   file: s size, c chunk ids (n*32 bytes), cs chunk sizes, d inline bytes, h hardlink
 *   dir: r tree id, nf files below, nb bytes below
 *   symlink: l target
 * Names (n) and symlink targets (l) are str when their bytes are valid UTF-8, else bin
 * holding the exact bytes (names.ts: textToWire/textFromWire).
 *   fifo/socket/device: rd device number
 *   any kind: x extended attributes (xattr-codec.ts)
 * Optional fields are omitted when absent, so equal entries encode to equal bytes.
 */
import { FormatError } from '../core/errors.js';
import { ID_BYTES, idFromBytes, idToBytes } from '../core/ids.js';
import { FieldReader } from './fields.js';
import { checkName, textFromWire, textToWire } from './names.js';
import type { ChunkRef, Entry, EntryKind, Timestamp } from './types.js';
import { xattrsFromWire, xattrsToWire } from './xattr-codec.js';

/** The largest chunk a file entry may reference (the chunker's max is 16 MiB). */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
/** The most chunks one entry may list (a 1 TiB file at 64 KiB average). */
export const MAX_CHUNKS_PER_ENTRY = 1 << 24;
/** Longest symlink target accepted. */
export const MAX_SYMLINK_TARGET = 65_536;

const KIND_TO_CODE: Record<EntryKind, string> = {
  file: 'f',
  dir: 'd',
  symlink: 'l',
  fifo: 'p',
  socket: 's',
  chardev: 'c',
  blockdev: 'b',
};
const CODE_TO_KIND = new Map(Object.entries(KIND_TO_CODE).map(([k, c]) => [c, k as EntryKind]));

const ENTRY_FIELDS = [
  'n',
  't',
  'm',
  'u',
  'g',
  'mt',
  's',
  'c',
  'cs',
  'd',
  'h',
  'r',
  'nf',
  'nb',
  'l',
  'rd',
  'x',
];

/** Builds the wire map for an entry (keys in canonical order). */
export function entryToWire(e: Entry): Record<string, unknown> {
  const w: Record<string, unknown> = {
    n: textToWire(e.name),
    t: KIND_TO_CODE[e.kind],
    m: e.mode,
    u: e.uid,
    g: e.gid,
    mt: [e.mtime.sec, e.mtime.nsec],
  };
  switch (e.kind) {
    case 'file': {
      w.s = e.size;
      if (e.chunks.length > 0) {
        const ids = Buffer.allocUnsafe(e.chunks.length * ID_BYTES);
        e.chunks.forEach((c, i) => {
          idToBytes(c.id).copy(ids, i * ID_BYTES);
        });
        w.c = ids;
        w.cs = e.chunks.map((c) => c.size);
      }
      if (e.inline !== undefined) w.d = e.inline;
      if (e.hardlink !== undefined) w.h = e.hardlink;
      break;
    }
    case 'dir':
      w.r = idToBytes(e.tree);
      w.nf = e.files;
      w.nb = e.bytes;
      break;
    case 'symlink':
      w.l = textToWire(e.target);
      break;
    default:
      if (e.rdev !== undefined) w.rd = e.rdev;
  }
  if (e.xattrs !== undefined && e.xattrs.length > 0) w.x = xattrsToWire(e.xattrs);
  return w;
}

/** Parses and validates one wire entry. `source` names the containing object for errors. */
export function entryFromWire(value: unknown, source: string): Entry {
  const name = textFromWire(
    new FieldReader(value, source, ENTRY_FIELDS).raw('n'),
    source,
    'n',
    4096,
  );
  checkName(name, source);
  const where = `${source} entry ${JSON.stringify(name)}`;
  const r = new FieldReader(value, where, ENTRY_FIELDS);
  const kind: EntryKind = CODE_TO_KIND.get(r.str('t', 1)) ?? r.fail('t', 'unknown entry kind');
  const base: Pick<Entry, 'name' | 'mode' | 'uid' | 'gid' | 'mtime' | 'xattrs'> = {
    name,
    mode: r.uint('m', 0o7777),
    uid: r.uint('u', 0xffffffff),
    gid: r.uint('g', 0xffffffff),
    mtime: timestampFromWire(r.raw('mt'), where),
  };
  if (r.has('x')) base.xattrs = xattrsFromWire(r.raw('x'), where);
  const allowedForKind: Record<EntryKind, string[]> = {
    file: ['s', 'c', 'cs', 'd', 'h'],
    dir: ['r', 'nf', 'nb'],
    symlink: ['l'],
    fifo: ['rd'],
    socket: ['rd'],
    chardev: ['rd'],
    blockdev: ['rd'],
  };
  for (const key of ['s', 'c', 'cs', 'd', 'h', 'r', 'nf', 'nb', 'l', 'rd']) {
    if (r.has(key) && !allowedForKind[kind].includes(key)) r.fail(key, `not allowed on a ${kind}`);
  }
  switch (kind) {
    case 'file':
      return { ...base, kind, ...fileContentFromWire(r) };
    case 'dir':
      return { ...base, kind, tree: r.id('r'), files: r.uint('nf'), bytes: r.uint('nb') };
    case 'symlink': {
      const target = textFromWire(r.raw('l'), where, 'l', MAX_SYMLINK_TARGET);
      if (target.length === 0 || target.includes('\0')) r.fail('l', 'empty or holds NUL');
      return { ...base, kind, target };
    }
    default:
      return r.has('rd') ? { ...base, kind, rdev: r.uint('rd') } : { ...base, kind };
  }
}

function fileContentFromWire(r: FieldReader): {
  size: number;
  chunks: ChunkRef[];
  inline?: Uint8Array;
  hardlink?: string;
} {
  const size = r.uint('s');
  const chunks: ChunkRef[] = [];
  if (r.has('c') || r.has('cs')) {
    const ids = r.bin('c', MAX_CHUNKS_PER_ENTRY * ID_BYTES);
    const sizes = r.array('cs', MAX_CHUNKS_PER_ENTRY);
    if (ids.length === 0 || ids.length % ID_BYTES !== 0 || ids.length / ID_BYTES !== sizes.length) {
      r.fail('c', `${ids.length} id bytes do not match ${sizes.length} chunk sizes`);
    }
    let total = 0;
    for (let i = 0; i < sizes.length; i++) {
      const s = sizes[i];
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > MAX_CHUNK_BYTES) {
        r.fail(`cs[${i}]`, 'not a chunk size');
      }
      total += s;
      chunks.push({ id: idFromBytes(ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES)), size: s });
    }
    if (total !== size) r.fail('cs', `chunk sizes add up to ${total}, not the file size ${size}`);
  }
  const out: { size: number; chunks: ChunkRef[]; inline?: Uint8Array; hardlink?: string } = {
    size,
    chunks,
  };
  if (r.has('d')) {
    if (chunks.length > 0) r.fail('d', 'a file has either inline data or chunks');
    const inline = r.bin('d');
    if (inline.length !== size) r.fail('d', `holds ${inline.length} bytes, size says ${size}`);
    out.inline = inline;
  } else if (chunks.length === 0 && size !== 0) {
    r.fail('s', `size ${size} but no content`);
  }
  if (r.has('h')) out.hardlink = r.str('h', 256);
  return out;
}

function timestampFromWire(value: unknown, source: string): Timestamp {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new FormatError(source, 'field mt: expected [seconds, nanoseconds]');
  }
  const [sec, nsec] = value;
  if (typeof sec !== 'number' || !Number.isSafeInteger(sec)) {
    throw new FormatError(source, 'field mt: seconds not an integer');
  }
  if (typeof nsec !== 'number' || !Number.isInteger(nsec) || nsec < 0 || nsec > 999_999_999) {
    throw new FormatError(source, 'field mt: nanoseconds out of range');
  }
  return { sec, nsec };
}
