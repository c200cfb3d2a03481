/**
 * One directory's listing for the backup walk: its children's names in name order and
 * each child's lstat, packed into two typed arrays. Packed, a scan made on the scan
 * thread (scan-worker.ts) crosses to the walk as two transferred buffers, not thousands
 * of stat objects, and the walk's thread spends no time in `lstat` (with 100,000
 * unchanged files, half of a no-change backup's main-thread time was `lstat`).
 */
import { type BigIntStats, constants, lstatSync } from 'node:fs';
import { isWellFormedName, nameToBytes, readdirNamesSync } from '../core/fs-names.js';
import { NO_XATTRS, tryReadXattrs, type Xattr, type XattrsUnreadable } from '../core/xattrs.js';
import { sortNames } from '../manifest/names.js';
import type { TagExcluder } from './exclude-tags.js';
import type { SourceStat, XattrsRead } from './source-stat.js';

/** Int64 fields per child in `DirScan.stats`, in this order. */
const FIELDS = 12;
const MODE = 0;
const NLINK = 1;
const UID = 2;
const GID = 3;
const RDEV = 4;
const SIZE = 5;
const DEV = 6;
const INO = 7;
// Times as seconds and nanoseconds: in nanoseconds alone, int64 ends in April 2262.
const MTIME_SEC = 8;
const MTIME_NSEC = 9;
const CTIME_SEC = 10;
const CTIME_NSEC = 11;
const NS_PER_SEC = 1_000_000_000n;

/** Stores `ns` nanoseconds since the epoch at `at` and `at + 1` (seconds, nanoseconds). */
function putTime(stats: BigInt64Array, at: number, ns: bigint): void {
  let sec = ns / NS_PER_SEC;
  let nsec = ns % NS_PER_SEC;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS_PER_SEC;
  }
  stats[at] = sec;
  stats[at + 1] = nsec;
}

/** A directory's children as `scanDirectory` found them. */
export interface DirScan {
  /** Child names in name order. */
  names: string[];
  /** FIELDS int64s per child; meaningful where `ok` is 1. */
  stats: BigInt64Array;
  /**
   * 1 where the child's lstat succeeded; 0 where it failed (it vanished, or no
   * permission): the walk then calls lstat itself, which reports the cause.
   */
  ok: Uint8Array;
  /**
   * When the scan read extended attributes (see ScanXattrs): those of each child that
   * has some, or why they could not be read, by child index (a child it read and that is
   * not in it has none).
   */
  xattrs?: Map<number, Xattr[] | XattrsUnreadable>;
  /** `xattrs` covers regular files too (ScanXattrs `all`). */
  xattrsOfFiles?: boolean;
  /**
   * Set when the directory is tagged for exclusion (exclude-tags.ts): the tag files that
   * tagged it, which are then the only `names` (nothing else of it is lstat-ed).
   */
  tagged?: string[];
}

/**
 * Which children's extended attributes a scan reads: none, all but regular files (the
 * walk reads a file's only when it reads the file: see backup-walker), or all (a first
 * backup, which reads every file).
 */
export type ScanXattrs = 'none' | 'not-files' | 'all';

/**
 * Lists directory `at` (a path as `fs` takes it) and lstats every child, and reads
 * extended attributes as `xattrs` says. Throws what `readdir` throws; a child's failed
 * lstat only clears its `ok`.
 */
export function scanDirectory(
  at: string,
  tags?: TagExcluder,
  xattrs: ScanXattrs = 'none',
): DirScan {
  const listed = sortNames(readdirNamesSync(at));
  const prefix = at.endsWith('/') ? at : `${at}/`;
  // A tagged directory keeps its tag files only: the rest is not even lstat-ed.
  const tagged = tags?.tagsIn(listed, (name) => childPath(prefix, name));
  const names = tagged ?? listed;
  const stats = new BigInt64Array(names.length * FIELDS);
  const ok = new Uint8Array(names.length);
  const attrs: DirScan['xattrs'] = xattrs !== 'none' ? new Map() : undefined;
  for (let i = 0; i < names.length; i++) {
    let st: BigIntStats;
    const child = childPath(prefix, names[i]!);
    try {
      st = lstatSync(child, { bigint: true });
    } catch {
      continue;
    }
    if (attrs && (xattrs === 'all' || (Number(st.mode) & S_IFMT) !== S_IFREG)) {
      const found = tryReadXattrs(child);
      if ('code' in found || found.length > 0) attrs.set(i, found as Xattr[] | XattrsUnreadable);
    }
    const o = i * FIELDS;
    stats[o + MODE] = st.mode;
    stats[o + NLINK] = st.nlink;
    stats[o + UID] = st.uid;
    stats[o + GID] = st.gid;
    stats[o + RDEV] = st.rdev;
    stats[o + SIZE] = st.size;
    // Device and inode numbers are unsigned 64-bit: stored modulo 2^64, read back unsigned.
    stats[o + DEV] = BigInt.asIntN(64, st.dev);
    stats[o + INO] = BigInt.asIntN(64, st.ino);
    putTime(stats, o + MTIME_SEC, st.mtimeNs);
    putTime(stats, o + CTIME_SEC, st.ctimeNs);
    ok[i] = 1;
  }
  const scan: DirScan = { names, stats, ok };
  if (tagged) scan.tagged = tagged;
  if (attrs) scan.xattrs = attrs;
  if (xattrs === 'all') scan.xattrsOfFiles = true;
  return scan;
}

/** Child `name` of the directory at `prefix` (ending in `/`), as `fs` takes it. */
function childPath(prefix: string, name: string): string | Buffer {
  if (isWellFormedName(name)) return prefix + name;
  return Buffer.concat([Buffer.from(prefix), nameToBytes(name)]);
}

/** Child `i`'s lstat from `scan`, or undefined where it failed. */
export function scannedStat(scan: DirScan, i: number): SourceStat | undefined {
  if (scan.ok[i] !== 1) return undefined;
  // A regular file's may not have been read (see ScanXattrs): the walk reads them then.
  const read = scan.xattrs && (scan.xattrsOfFiles === true || !scannedIsFile(scan, i));
  const attrs = read ? (scan.xattrs!.get(i) ?? NO_XATTRS) : undefined;
  return new PackedStat(scan.stats, i * FIELDS, attrs);
}

/** The file-type bits of a mode. */
const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR } = constants;

/** True when child `i` of `scan` is a regular file. */
function scannedIsFile(scan: DirScan, i: number): boolean {
  return (Number(scan.stats[i * FIELDS + MODE]!) & S_IFMT) === S_IFREG;
}

/** True when child `i` of `scan` is a directory (without building its PackedStat). */
export function scannedIsDirectory(scan: DirScan, i: number): boolean {
  return scan.ok[i] === 1 && (Number(scan.stats[i * FIELDS + MODE]!) & S_IFMT) === S_IFDIR;
}

/** One child's fields in a scan, read as `BigIntStats` would give them. */
export class PackedStat implements SourceStat {
  constructor(
    private readonly s: BigInt64Array,
    private readonly o: number,
    /** The child's extended attributes, when the scan read them. */
    readonly xattrs?: XattrsRead,
  ) {}

  get mode(): bigint {
    return this.s[this.o + MODE]!;
  }
  get nlink(): bigint {
    return this.s[this.o + NLINK]!;
  }
  get uid(): bigint {
    return this.s[this.o + UID]!;
  }
  get gid(): bigint {
    return this.s[this.o + GID]!;
  }
  get rdev(): bigint {
    return this.s[this.o + RDEV]!;
  }
  get size(): bigint {
    return this.s[this.o + SIZE]!;
  }
  get dev(): bigint {
    return BigInt.asUintN(64, this.s[this.o + DEV]!);
  }
  get ino(): bigint {
    return BigInt.asUintN(64, this.s[this.o + INO]!);
  }
  get mtimeNs(): bigint {
    return this.s[this.o + MTIME_SEC]! * NS_PER_SEC + this.s[this.o + MTIME_NSEC]!;
  }
  get ctimeNs(): bigint {
    return this.s[this.o + CTIME_SEC]! * NS_PER_SEC + this.s[this.o + CTIME_NSEC]!;
  }
  private type(): number {
    return Number(this.s[this.o + MODE]!) & S_IFMT;
  }
  isFile(): boolean {
    return this.type() === S_IFREG;
  }
  isDirectory(): boolean {
    return this.type() === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return this.type() === S_IFLNK;
  }
  isFIFO(): boolean {
    return this.type() === S_IFIFO;
  }
  isSocket(): boolean {
    return this.type() === S_IFSOCK;
  }
  isCharacterDevice(): boolean {
    return this.type() === S_IFCHR;
  }
}
