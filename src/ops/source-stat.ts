/** Turning file-system metadata into entry fields and stat-cache fingerprints. */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { nameToBytes } from '../core/fs-names.js';
import type { Xattr, XattrsUnreadable } from '../core/xattrs.js';
import type { EntryBase, EntryKind, Timestamp } from '../manifest/types.js';

/** Extended attributes as a scan read them, or why it could not (an errno code and message). */
export type XattrsRead = readonly Xattr[] | XattrsUnreadable;

/**
 * The part of an lstat result the backup walk uses: a `BigIntStats` from `lstatSync`, or
 * a `PackedStat` from a directory scan done on the scan thread (dir-scan.ts).
 */
export type SourceStat = Pick<
  BigIntStats,
  | 'dev'
  | 'ino'
  | 'mode'
  | 'nlink'
  | 'uid'
  | 'gid'
  | 'rdev'
  | 'size'
  | 'mtimeNs'
  | 'ctimeNs'
  | 'isFile'
  | 'isDirectory'
  | 'isSymbolicLink'
  | 'isFIFO'
  | 'isSocket'
  | 'isCharacterDevice'
> & {
  /** Extended attributes, when the directory scan read them with the stat. */
  readonly xattrs?: XattrsRead;
};

/** The entry kind of an lstat result. */
export function kindOf(st: SourceStat): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'chardev';
  return 'blockdev';
}

/** Mode, owner and mtime of an lstat result, and `xattrs` where there are any. */
export function baseFields(name: string, st: SourceStat, xattrs?: readonly Xattr[]) {
  const base: EntryBase = {
    name,
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: timestampOf(st.mtimeNs),
  };
  if (xattrs !== undefined && xattrs.length > 0) base.xattrs = xattrs as Xattr[];
  return base;
}

/**
 * A stat-cache signature part for extended attributes: empty for none, else a digest
 * of them, so that a change to them alone (which ctime may not show: `--ignore-ctime`,
 * a directory's signature) makes the entry be built again.
 */
export function xattrSignature(xattrs: readonly Xattr[] | undefined): string {
  if (xattrs === undefined || xattrs.length === 0) return '';
  const h = createHash('sha256');
  for (const a of xattrs) {
    const name = nameToBytes(a.name);
    h.update(`${name.length}:${a.value.length}:`).update(name).update(a.value);
  }
  return `:x${h.digest('hex').slice(0, 32)}`;
}

/** A nanosecond count as seconds + nanoseconds (floor division, for times before 1970). */
export function timestampOf(ns: bigint): Timestamp {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

/** What a fingerprint leaves out (`backup --ignore-inode`, `--ignore-ctime`). */
export interface FingerprintRules {
  /**
   * Leave out the device and inode numbers: file systems that give a file other numbers
   * at every mount (FUSE, some network file systems) would make every file look new.
   * (Files with several links are read again all the same: see the walk.)
   */
  ignoreInode?: boolean;
  /**
   * Leave out ctime, for file systems or tools that change it without changing the file
   * (a restore of the whole tree, some sync tools). Mode and owner are compared instead,
   * so a chmod or chown alone is still seen; a content change that keeps size and mtime
   * (a tool resetting mtime) is not.
   */
  ignoreCtime?: boolean;
}

/**
 * The stat-cache fingerprint: a file whose fingerprint is unchanged is taken as
 * unchanged. ctime is included because it changes on every write and chmod, even when
 * a tool resets mtime. Fingerprints made under different rules never equal each other
 * (their fields differ in number or kind), so changing the rules costs one read of each
 * file, never a wrong match.
 *
 * Under either rule the link count is part of it: a link made or removed changes ctime,
 * and without ctime (or without the inode number the cached entry's link group is named
 * by) a file that joined or left a group of hard links would keep its cached entry, with
 * no group key or with a stale one that a new group can come to share.
 */
export function fingerprint(st: SourceStat, rules: FingerprintRules = {}): string {
  const where = rules.ignoreInode ? '-' : `${st.dev}:${st.ino}`;
  const change = rules.ignoreCtime ? `m${st.mode}:${st.uid}:${st.gid}` : String(st.ctimeNs);
  const links = rules.ignoreInode || rules.ignoreCtime ? `:l${st.nlink}` : '';
  return `${where}:${st.size}:${st.mtimeNs}:${change}${links}`;
}

/**
 * True when a file changed so recently that a later change could keep the same
 * mtime and ctime (timestamps advance in ticks), so its fingerprint must not be
 * trusted. File systems with whole-second timestamps (FAT, ext3, some network file
 * systems) get a 2 s margin; nanosecond file systems tick at most every few ms, so
 * 100 ms is ample.
 */
export function tooRecentToCache(st: SourceStat, startedAtNs: bigint): boolean {
  // Older than the widest margin: the common case, decided without the divisions below.
  const oldest = startedAtNs - 2_000_000_000n;
  if (st.mtimeNs < oldest && st.ctimeNs < oldest) return false;
  const coarse = st.mtimeNs % 1_000_000_000n === 0n && st.ctimeNs % 1_000_000_000n === 0n;
  const margin = coarse ? 2_000_000_000n : 100_000_000n;
  return st.mtimeNs >= startedAtNs - margin || st.ctimeNs >= startedAtNs - margin;
}
