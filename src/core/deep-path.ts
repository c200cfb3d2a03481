/**
 * Reaching paths longer than PATH_MAX (4096 bytes on Linux).
 *
 * The kernel refuses a path of 4096 bytes or more in one call, and Node has no `openat`.
 * On Linux a directory can instead be opened (an `O_PATH` descriptor: no read permission
 * needed) and what lies below it reached as `/proc/self/fd/<fd>/<rest>`, a short path.
 * A long path is therefore reached in hops: a direct prefix, then one descriptor per
 * component beyond it. `DirRef` holds one such directory (a descriptor only when its
 * path is long) so a walk opens each deep directory once for all its children.
 *
 * Descriptors must stay open until every call using a path built from them has
 * finished (a closed number can be reused by an unrelated open): close a `DirRef` only
 * after awaiting its work. Elsewhere than Linux paths are used whole, as before, and
 * deep ones fail with ENAMETOOLONG.
 */
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsPath, nameByteLength } from './fs-names.js';

/** True where `/proc/self/fd/<fd>/...` reaches below an open directory. */
export const CAN_HOP = process.platform === 'linux' && existsSync('/proc/self/fd');

/**
 * A directory whose path is longer than this is held by a descriptor. Any child path is
 * then at most this + 1 + a name (<= 1024 bytes), well under PATH_MAX.
 */
export const DIRECT_DIR_BYTES = 2048;

/** A whole path up to this many bytes is used directly (PATH_MAX is 4096 with the NUL). */
export const DIRECT_PATH_BYTES = 4000;
/** The most bytes of path one hop resolves. */
const HOP_BYTES = 3800;

/** Linux's O_PATH (not in `fs.constants`); the value of every architecture Node runs on. */
const O_PATH = 0o10000000;
const DIR_FLAGS = constants.O_DIRECTORY | O_PATH;

/** One directory, reachable by the file-system calls however long its path. */
export class DirRef {
  private constructor(
    /** The directory's logical path (names may hold byte escapes). */
    readonly path: string,
    /** What to hand to `fs` for the directory itself. */
    readonly at: string | Buffer,
    private fd: number | undefined,
    private readonly bytes: number,
  ) {}

  /**
   * The directory at logical path `path`. Short paths open nothing; long ones are opened
   * in hops (symlinks along the way are followed, as with a plain path). Close it after use.
   */
  static open(path: string): DirRef {
    const bytes = nameByteLength(path);
    if (!CAN_HOP || bytes <= DIRECT_DIR_BYTES)
      return new DirRef(path, fsPath(path), undefined, bytes);
    // Hops of up to HOP_BYTES: the first from the path's start, each next one below the
    // descriptor of the previous (about one open per 4 KB of path).
    const parts = path.split('/').filter((p) => p !== '');
    let fd: number | undefined;
    let i = 0;
    try {
      while (i < parts.length) {
        let step = fd !== undefined ? `/proc/self/fd/${fd}` : path.startsWith('/') ? '' : '.';
        let stepBytes = step.length;
        const first = i;
        while (i < parts.length) {
          const more = 1 + nameByteLength(parts[i]!);
          if (i > first && stepBytes + more > HOP_BYTES) break;
          step = `${step}/${parts[i]!}`;
          stepBytes += more;
          i++;
        }
        const next = openSync(fsPath(step), DIR_FLAGS);
        if (fd !== undefined) closeSync(fd);
        fd = next;
      }
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      throw err;
    }
    return new DirRef(path, `/proc/self/fd/${fd}`, fd, bytes);
  }

  /**
   * A short logical path of this directory, valid while it is open: `/proc/self/fd/<fd>`
   * when it holds a descriptor, else its path. Paths built on it (`join`ed names) are
   * reached from the descriptor, not from the start of the whole path, in worker
   * threads too (descriptors belong to the process).
   */
  reach(): string {
    return this.fd === undefined ? this.path : `/proc/self/fd/${this.fd}`;
  }

  /** What to hand to `fs` for child `name` of this directory. */
  child(name: string): string | Buffer {
    if (this.fd === undefined) return fsPath(join(this.path, name));
    const prefix = `/proc/self/fd/${this.fd}/`;
    const bytes = fsPath(name);
    return typeof bytes === 'string' ? prefix + bytes : Buffer.concat([Buffer.from(prefix), bytes]);
  }

  /**
   * Subdirectory `name`, holding a descriptor only when its path is long. The last
   * component is not followed if it is a symlink unless `follow` (ELOOP instead).
   */
  sub(name: string, follow = false): DirRef {
    const path = join(this.path, name);
    const bytes = this.bytes + 1 + nameByteLength(name);
    if (!CAN_HOP || bytes <= DIRECT_DIR_BYTES)
      return new DirRef(path, fsPath(path), undefined, bytes);
    const fd = openSync(this.child(name), DIR_FLAGS | (follow ? 0 : constants.O_NOFOLLOW));
    return new DirRef(path, `/proc/self/fd/${fd}`, fd, bytes);
  }

  /** Closes the descriptor, if any. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function isShort(path: string): boolean {
  // UTF-8 takes at most 3 bytes per UTF-16 unit, so most paths need no counting.
  return (
    !CAN_HOP || path.length * 3 <= DIRECT_PATH_BYTES || nameByteLength(path) <= DIRECT_PATH_BYTES
  );
}

/** Runs `fn` with a form of logical path `path` that `fs` accepts, however long. */
export function withFsPathSync<T>(path: string, fn: (at: string | Buffer) => T): T {
  if (isShort(path)) return fn(fsPath(path));
  const dir = DirRef.open(dirname(path));
  try {
    return fn(dir.child(basename(path)));
  } finally {
    dir.close();
  }
}

/** `withFsPathSync` for asynchronous work: the path stays valid until `fn` settles. */
export async function withFsPath<T>(
  path: string,
  fn: (at: string | Buffer) => Promise<T>,
): Promise<T> {
  if (isShort(path)) return fn(fsPath(path));
  const dir = DirRef.open(dirname(path));
  try {
    return await fn(dir.child(basename(path)));
  } finally {
    dir.close();
  }
}
