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
import { ID_BYTES, idFromBytes, idToBytes } from '../core/ids.js';
import { FieldReader } from './fields.js';
import { checkName, textFromWire, textToWire } from './names.js';
import type {
  ChunkRef,
  DirEntry,
  Entry,
  EntryKind,
  FileEntry,
  SpecialEntry,
  SymlinkEntry,
  Timestamp,
} from './types.js';
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

const ENTRY_FIELDS = new Set([
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
]);

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

/** The fields only some kinds of entry have, and the kinds that have each. */
const KIND_FIELDS: ReadonlyMap<string, ReadonlySet<EntryKind>> = new Map([
  ...['s', 'c', 'cs', 'd', 'h'].map((k) => [k, new Set<EntryKind>(['file'])] as const),
  ...['r', 'nf', 'nb'].map((k) => [k, new Set<EntryKind>(['dir'])] as const),
  ['l', new Set<EntryKind>(['symlink'])],
  ['rd', new Set<EntryKind>(['fifo', 'socket', 'chardev', 'blockdev'])],
]);

/**
 * Parses and validates one wire entry. `source` names the containing object for errors.
 * Trees hold an entry per file, so this runs some hundred thousand times in a restore:
 * the entry is built in one object, without spreads or per-entry strings (the name of
 * the entry in an error is built only when there is one).
 */
export function entryFromWire(value: unknown, source: string): Entry {
  let name: string | undefined;
  const where = () => (name === undefined ? source : `${source} entry ${JSON.stringify(name)}`);
  const r = new FieldReader(value, where, ENTRY_FIELDS);
  name = textFromWire(r.raw('n'), source, 'n', 4096);
  checkName(name, source);
  const kind: EntryKind = CODE_TO_KIND.get(r.str('t', 1)) ?? r.fail('t', 'unknown entry kind');
  const mode = r.uint('m', 0o7777);
  const uid = r.uint('u', 0xffffffff);
  const gid = r.uint('g', 0xffffffff);
  const mtime = timestampFromWire(r);
  const xattrs = r.has('x') ? xattrsFromWire(r.raw('x'), where()) : undefined;
  for (const [key, kinds] of KIND_FIELDS) {
    if (r.has(key) && !kinds.has(kind)) r.fail(key, `not allowed on a ${kind}`);
  }
  // The keys in the order entries have always had them (JSON output shows it).
  const e = { name, mode, uid, gid, mtime } as Entry;
  if (xattrs !== undefined) e.xattrs = xattrs;
  e.kind = kind;
  switch (kind) {
    case 'file':
      fileContentFromWire(r, e as FileEntry);
      break;
    case 'dir': {
      const d = e as DirEntry;
      d.tree = r.id('r');
      d.files = r.uint('nf');
      d.bytes = r.uint('nb');
      break;
    }
    case 'symlink': {
      const target = textFromWire(r.raw('l'), where(), 'l', MAX_SYMLINK_TARGET);
      if (target.length === 0 || target.includes('\0')) r.fail('l', 'empty or holds NUL');
      (e as SymlinkEntry).target = target;
      break;
    }
    default:
      if (r.has('rd')) (e as SpecialEntry).rdev = r.uint('rd');
  }
  return e;
}

/** Reads a file entry's content fields into `e` (size, chunks, inline, hardlink). */
function fileContentFromWire(r: FieldReader, e: FileEntry): void {
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
  e.size = size;
  e.chunks = chunks;
  if (r.has('d')) {
    if (chunks.length > 0) r.fail('d', 'a file has either inline data or chunks');
    const inline = r.bin('d');
    if (inline.length !== size) r.fail('d', `holds ${inline.length} bytes, size says ${size}`);
    e.inline = inline;
  } else if (chunks.length === 0 && size !== 0) {
    r.fail('s', `size ${size} but no content`);
  }
  if (r.has('h')) e.hardlink = r.str('h', 256);
}

function timestampFromWire(r: FieldReader): Timestamp {
  const value = r.raw('mt');
  if (!Array.isArray(value) || value.length !== 2) r.fail('mt', 'expected [seconds, nanoseconds]');
  const [sec, nsec] = value;
  if (typeof sec !== 'number' || !Number.isSafeInteger(sec)) {
    r.fail('mt', 'seconds not an integer');
  }
  if (typeof nsec !== 'number' || !Number.isInteger(nsec) || nsec < 0 || nsec > 999_999_999) {
    r.fail('mt', 'nanoseconds out of range');
  }
  return { sec, nsec };
}
