/**
 * The snapshot data model: entries (one per file, directory, symlink...), tree nodes
 * (one directory, possibly split into pages), and the snapshot record.
 */
import type { ObjectId } from '../core/ids.js';
import type { Xattr } from '../core/xattrs.js';

/** Seconds and nanoseconds since the Unix epoch (seconds may be negative). */
export interface Timestamp {
  sec: number;
  nsec: number;
}

/** One chunk of a file's content: its blob id and plaintext length. */
export interface ChunkRef {
  id: ObjectId;
  size: number;
}

/** Every kind of entry a tree can hold. */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';

/** Fields every entry has. */
export interface EntryBase {
  /** The file name: non-empty, not `.` or `..`, no `/` or NUL. */
  name: string;
  /** Permission bits, including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  mtime: Timestamp;
  /**
   * Extended attributes (ACLs, capabilities, labels, `user.*`), in name order; absent
   * when there are none or they were not read (`backup --no-xattrs`).
   */
  xattrs?: Xattr[];
}

/** A regular file. Small files hold their bytes in `inline`; others list chunks. */
export interface FileEntry extends EntryBase {
  kind: 'file';
  size: number;
  /** Content chunks in order; empty for empty or inline files. */
  chunks: ChunkRef[];
  /** The whole content, for files small enough to live in their directory node. */
  inline?: Uint8Array;
  /**
   * Set on files with more than one hard link: entries of one snapshot with the same
   * value are the same inode and are restored as hard links of each other.
   */
  hardlink?: string;
}

/** A directory; its entries are in the tree node `tree`. */
export interface DirEntry extends EntryBase {
  kind: 'dir';
  tree: ObjectId;
  /** Regular files below this directory, at any depth. */
  files: number;
  /** Bytes of all regular files below this directory, at any depth. */
  bytes: number;
}

/** A symbolic link; `target` is stored as it was read, never resolved. */
export interface SymlinkEntry extends EntryBase {
  kind: 'symlink';
  target: string;
}

/** A fifo, socket or device node: recorded, restored where the platform allows. */
export interface SpecialEntry extends EntryBase {
  kind: 'fifo' | 'socket' | 'chardev' | 'blockdev';
  /** Device number for character and block devices. */
  rdev?: number;
}

/** Any tree entry. */
export type Entry = FileEntry | DirEntry | SymlinkEntry | SpecialEntry;

/** One child of an index node: the page (or lower index) `tree`, starting at `first`. */
export interface PageRef {
  /** Name of the first entry under this child. */
  first: string;
  tree: ObjectId;
  /** Number of entries under this child. */
  count: number;
}

/**
 * A stored tree node. A directory is one leaf when small; a large one is split into
 * leaves (pages) at content-defined boundaries, joined by index nodes.
 */
export type TreeNode = { kind: 'leaf'; entries: Entry[] } | { kind: 'index'; pages: PageRef[] };

/** Counts recorded with every snapshot. */
export interface SnapshotSummary {
  files: number;
  dirs: number;
  /** Bytes of all regular files in the snapshot. */
  bytes: number;
  /** Files that were new, changed (re-read) or unchanged relative to the parent. */
  filesNew: number;
  filesChanged: number;
  filesUnchanged: number;
  /** Blobs (chunks and tree nodes) and stored bytes this backup added to the repository. */
  blobsAdded: number;
  bytesAdded: number;
  /** Files or directories that could not be read (each one was reported as a warning). */
  errors: number;
  /** Wall-clock duration of the backup in milliseconds. */
  durationMs: number;
}

/** A snapshot record: what was backed up, when, by whom, and the root tree. */
export interface Snapshot {
  /** Creation time, ISO 8601 UTC with milliseconds. */
  time: string;
  hostname: string;
  username: string;
  /** The absolute source paths that were backed up, as given. */
  paths: string[];
  tags: string[];
  /** The root tree node. */
  tree: ObjectId;
  /** The snapshot this one was compared against, if any. */
  parent?: ObjectId;
  /**
   * Set on a record that replaces another (`tag`, `rewrite`): the id of the record it
   * replaces, which has the same time.
   */
  original?: ObjectId;
  /**
   * With `original`, the rank of a replacement among records of its time (absent: 0;
   * see `orderSnapshots`). `rewrites`: a `rewrite` sets it one above the highest of the
   * records of that time, so the last rewrite is the newest record whatever was tagged
   * since; `tag` keeps it. `retags`: `tag` sets it one above the replaced record's,
   * `rewrite` leaves it out.
   */
  rewrites?: number;
  retags?: number;
  summary: SnapshotSummary;
  /** The program that wrote it, e.g. `cairn 0.1.0`. */
  program: string;
}
