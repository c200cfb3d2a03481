/**
 * Tar headers (POSIX.1-2001 pax over ustar), for `dump`: pure functions from an entry's
 * fields to the 512-byte blocks that precede its data in the archive.
 *
 * What does not fit a ustar field goes into a pax extended header (type `x`) before the
 * entry: a path or link target over 100 bytes, a size of 8 GiB or more, ids over
 * 2,097,151, times before 1970 or with fractions of a second (`mtime` as seconds with
 * nine decimals, so times come back exactly). Names are bytes: a pax record that is not
 * UTF-8 is written as it is, with `hdrcharset=BINARY` (POSIX's way to say so, which
 * bsdtar and Python's tarfile honour; GNU tar takes the bytes as they are, with a
 * warning that it ignores the keyword). Readers: GNU tar, bsdtar, Python's tarfile,
 * anything that reads pax. (bsdtar reads a negative time with a fraction as its integer
 * part plus the fraction, -1.75 s as -0.25: no encoding suits it and GNU tar both.)
 * Extended attributes are `SCHILY.xattr.NAME` records holding the value's bytes, as GNU
 * tar (`--xattrs`) and bsdtar write and read them.
 */
import { isUtf8 } from 'node:buffer';
import { nameToBytes } from '../core/fs-names.js';
import type { Xattr } from '../core/xattrs.js';

/** The size of a tar block. */
export const BLOCK = 512;

/** The entry kinds a tar holds (sockets have no type). */
export type TarKind = 'file' | 'hardlink' | 'symlink' | 'chardev' | 'blockdev' | 'dir' | 'fifo';

const TYPEFLAG: Record<TarKind, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  dir: '5',
  fifo: '6',
};

/** One entry's header fields. `path` and `linkpath` are raw bytes. */
export interface TarHeader {
  kind: TarKind;
  /** The path in the archive (a directory's without its trailing `/`). */
  path: Uint8Array;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow (files only; 0 for everything else). */
  size: number;
  mtime: { sec: number; nsec: number };
  /** Symlink target or hard link's first path. */
  linkpath?: Uint8Array;
  /** Device numbers of a chardev or blockdev. */
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, in name order. */
  xattrs?: readonly Xattr[];
}

const NAME_BYTES = 100;
/** The largest value of an octal field of `width` bytes (width - 1 digits and a NUL). */
const octalMax = (width: number) => 8 ** (width - 1) - 1;

/** The blocks of `h`: a pax header when needed, then the ustar header. */
export function tarHeaderBlocks(h: TarHeader): Uint8Array {
  const path = h.kind === 'dir' ? withSlash(h.path) : h.path;
  const pax: [string | Uint8Array, Uint8Array][] = [];
  if (path.length > NAME_BYTES) pax.push(['path', path]);
  if (h.linkpath && h.linkpath.length > NAME_BYTES) pax.push(['linkpath', h.linkpath]);
  if (h.size > octalMax(12)) pax.push(['size', ascii(String(h.size))]);
  if (h.uid > octalMax(8)) pax.push(['uid', ascii(String(h.uid))]);
  if (h.gid > octalMax(8)) pax.push(['gid', ascii(String(h.gid))]);
  if (h.mtime.sec < 0 || h.mtime.sec > octalMax(12) || h.mtime.nsec !== 0) {
    pax.push(['mtime', ascii(exactSeconds(h.mtime))]);
  }
  if (pax.some(([, v]) => !isUtf8(v))) pax.unshift(['hdrcharset', ascii('BINARY')]);
  // After the check above: hdrcharset concerns names, and values of attributes are bytes.
  for (const a of h.xattrs ?? []) {
    pax.push([concat([ascii('SCHILY.xattr.'), paxKeyBytes(nameToBytes(a.name))]), a.value]);
  }
  const ustar = ustarBlock(h, path);
  if (pax.length === 0) return ustar;
  const records = concat(pax.map(([k, v]) => paxRecord(k, v)));
  const paxHeader = ustarBlock(
    {
      kind: 'file',
      path: concat([ascii('PaxHeaders/'), lastName(path)]),
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: records.length,
      mtime: { sec: 0, nsec: 0 },
    },
    undefined,
    'x',
  );
  return concat([paxHeader, records, new Uint8Array(padding(records.length)), ustar]);
}

/** Bytes of zeros that pad `size` bytes of data to whole blocks. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end of an archive: two zero blocks. */
export function tarEnd(): Uint8Array {
  return new Uint8Array(2 * BLOCK);
}

function ustarBlock(h: TarHeader, fullPath: Uint8Array | undefined, type?: string): Uint8Array {
  const b = new Uint8Array(BLOCK);
  const path = fullPath ?? h.path;
  put(b, 0, NAME_BYTES, path.length > NAME_BYTES ? path.subarray(0, NAME_BYTES) : path);
  octal(b, 100, 8, h.mode & 0o7777);
  octal(b, 108, 8, h.uid > octalMax(8) ? 0 : h.uid);
  octal(b, 116, 8, h.gid > octalMax(8) ? 0 : h.gid);
  octal(b, 124, 12, h.size > octalMax(12) ? 0 : h.size);
  const sec = h.mtime.sec;
  octal(b, 136, 12, sec < 0 || sec > octalMax(12) ? 0 : sec);
  b[156] = (type ?? TYPEFLAG[h.kind]).charCodeAt(0);
  if (h.linkpath) {
    const l = h.linkpath;
    put(b, 157, NAME_BYTES, l.length > NAME_BYTES ? l.subarray(0, NAME_BYTES) : l);
  }
  put(b, 257, 6, ascii('ustar\0'));
  put(b, 263, 2, ascii('00'));
  if (h.devmajor !== undefined) octal(b, 329, 8, h.devmajor);
  if (h.devminor !== undefined) octal(b, 337, 8, h.devminor);
  // The checksum is taken with its own field as spaces.
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  put(b, 148, 8, ascii(`${sum.toString(8).padStart(6, '0')}\0 `));
  return b;
}

/**
 * An attribute name as a pax key: `%` and `=` percent-encoded, as GNU tar writes and
 * reads them (a key ends at the first `=`).
 */
function paxKeyBytes(name: Uint8Array): Uint8Array {
  if (!name.includes(0x25) && !name.includes(0x3d)) return name;
  const out: number[] = [];
  for (const b of name) {
    if (b === 0x25) out.push(0x25, 0x32, 0x35);
    else if (b === 0x3d) out.push(0x25, 0x33, 0x44);
    else out.push(b);
  }
  return Uint8Array.from(out);
}

/** A pax record: `LEN key=value\n`, LEN counting the whole record and its own digits. */
function paxRecord(key: string | Uint8Array, value: Uint8Array): Uint8Array {
  const k = typeof key === 'string' ? ascii(key) : key;
  const body = value.length + k.length + 3; // space, '=', newline
  let len = body + String(body).length;
  if (String(len).length !== String(body).length) len = body + String(len).length;
  return concat([ascii(`${len} `), k, ascii('='), value, ascii('\n')]);
}

/** `sec.nnnnnnnnn` (a negative time as `-s.nnnnnnnnn` of the instant before 1970). */
function exactSeconds({ sec, nsec }: { sec: number; nsec: number }): string {
  if (nsec === 0) return String(sec);
  if (sec >= 0) return `${sec}.${String(nsec).padStart(9, '0')}`;
  // sec + nsec/1e9 with sec < 0: e.g. -2 + 0.25 = -1.75.
  return `-${-sec - 1}.${String(1e9 - nsec).padStart(9, '0')}`;
}

function octal(b: Uint8Array, at: number, width: number, n: number): void {
  put(b, at, width, ascii(`${n.toString(8).padStart(width - 1, '0')}\0`));
}

function put(b: Uint8Array, at: number, width: number, bytes: Uint8Array): void {
  b.set(bytes.subarray(0, width), at);
}

function withSlash(path: Uint8Array): Uint8Array {
  return path[path.length - 1] === 0x2f ? path : concat([path, ascii('/')]);
}

function lastName(path: Uint8Array): Uint8Array {
  let end = path.length;
  if (path[end - 1] === 0x2f) end--;
  const slash = path.lastIndexOf(0x2f, end - 1);
  return path.subarray(slash + 1, end).subarray(0, NAME_BYTES - 'PaxHeaders/'.length);
}

function ascii(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}
