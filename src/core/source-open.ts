/**
 * Opening source files for a backup without touching their access time, as restic and
 * borg do: reading a file sets its atime (on `relatime` mounts, once a day at least),
 * which a backup should not change, and some tools (mail readers, cleaners) act on it.
 * Linux's O_NOATIME is allowed to the file's owner and to root only; for anyone else
 * the file is opened plainly.
 */
import { constants, openSync } from 'node:fs';

const NOATIME = constants.O_NOATIME ?? 0;

const uid = process.getuid?.();

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
