/**
 * Opening source files for a backup without touching their access time, as restic and
 * borg do: reading a file sets its atime (on `relatime` mounts, once a day at least),
 * which a backup should not change, and some tools (mail readers, cleaners) act on it.
 * Linux's O_NOATIME is allowed to the file's owner and to root only; for anyone else
 * the file is opened plainly.
 *
 * Sparse files are also read around the page cache (`openSparseTwin`).
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';

const NOATIME = constants.O_NOATIME ?? 0;

const uid = process.getuid?.();
/** The flag of uncached reads; 0 where there is none or `CAIRN_DIRECT_IO=0`. */
const DIRECT_READS = process.env.CAIRN_DIRECT_IO === '0' ? 0 : (constants.O_DIRECT ?? 0);

/**
 * A read-only descriptor of `path` (with `flags` added), without updating its atime where
 * allowed. `owner`, the file's uid when the caller knows it, saves the refused attempt
 * for files of other users.
 */
export function openSourceSync(path: string | Buffer, flags = 0, owner?: number | bigint): number {
  const plain = constants.O_RDONLY | flags;
  if (NOATIME === 0) return openSync(path, plain);
  if (owner !== undefined && uid !== 0 && Number(owner) !== uid) return openSync(path, plain);
  try {
    return openSync(path, plain | NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return openSync(path, plain); // not the owner
  }
}

/** Holes a file must have before it is read around the page cache. */
export const SPARSE_MIN_HOLES = 1024 * 1024;

/**
 * A second, uncached (`O_DIRECT`) descriptor of the regular file `fd` is open on, when
 * that file is sparse (at least SPARSE_MIN_HOLES of its size not allocated), else
 * undefined. The twin only makes reading holes cheap, so whatever keeps it from opening
 * (a file system without `O_DIRECT`, no `/proc`, a full descriptor table, a security
 * module's rule, `CAIRN_DIRECT_IO=0`) means no twin, never a failed read. The caller
 * reads through it while it finds holes (SpanReader in repo/chunk-job.ts) and closes it.
 *
 * Why: read through the cache, every page of a hole becomes a new page-cache page of
 * zeros. A 4 GiB hole took 9.7 s of system time on this machine's VM (2 s with `dd`
 * on a warm host), read uncached 0.06 s: the kernel zeroes the reader's buffer and
 * allocates nothing. Reopened through `/proc/self/fd`, so it is the same file whatever
 * happened to its path (elsewhere there is no twin).
 */
export function openSparseTwin(fd: number): number | undefined {
  if (DIRECT_READS === 0) return undefined;
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.blocks * 512 + SPARSE_MIN_HOLES > st.size) return undefined;
    return openSourceSync(`/proc/self/fd/${fd}`, DIRECT_READS, st.uid);
  } catch {
    return undefined;
  }
}

/** Closes a twin from openSparseTwin, if any. */
export function closeSparseTwin(twin: number | undefined): void {
  if (twin !== undefined) closeSync(twin);
}
