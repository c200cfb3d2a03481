/**
 * File-system steps of a restore. Everything is created under a temporary name in its
 * final directory (`.cairn-tmp-<random>`) and renamed into place only when complete, so
 * a restore target never holds a half-written file under its real name.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  lutimesSync,
  openSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileEntry, SymlinkEntry, Timestamp } from '../manifest/types.js';

/** Prefix of every temporary name a restore creates (and skips when scanning). */
export const RESTORE_TEMP_PREFIX = '.cairn-tmp-';

/** Running as root: ownership is restored too. */
export const isRoot = process.getuid?.() === 0;

/** A fresh temporary name in `dir`. */
export function tempName(dir: string): string {
  return join(dir, `${RESTORE_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // it was never created
  }
}

/** A timestamp as the seconds value utimes takes (microsecond precision). */
export function toSeconds(t: Timestamp): number {
  return t.sec + t.nsec / 1e9;
}

/**
 * Writes a file whose content is in the tree (inline or empty) with synchronous calls:
 * for small files these cost microseconds where promises cost tens of microseconds.
 */
export function writeSmallFileSync(e: FileEntry, dir: string, path: string): void {
  const tmp = tempName(dir);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    if (e.inline) writeAllSync(fd, e.inline);
    fchmodSync(fd, e.mode);
    if (isRoot) fchownSync(fd, e.uid, e.gid);
    const t = toSeconds(e.mtime);
    futimesSync(fd, t, t);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(tmp);
    throw err;
  }
}

function writeAllSync(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, done);
}

/** Creates a symlink with its metadata under a temporary name, then renames it. */
export function writeSymlinkSync(e: SymlinkEntry, dir: string, path: string): void {
  const tmp = tempName(dir);
  try {
    symlinkSync(e.target, tmp);
    if (isRoot) lchownSync(tmp, e.uid, e.gid);
    const t = toSeconds(e.mtime);
    lutimesSync(tmp, t, t);
    renameSync(tmp, path);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
}

/** Creates something at a temporary name in `dir` with `make`, then renames it to `path`. */
export async function replaceWith(
  dir: string,
  path: string,
  make: (tmp: string) => Promise<void>,
): Promise<void> {
  const tmp = tempName(dir);
  try {
    await make(tmp);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Writes all of `data` at `position`. */
export async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
