/**
 * File-system steps of a restore. Everything is created under a temporary name in its
 * final directory (`.cairn-tmp-<random>`) and renamed into place only when complete, so
 * a restore target never holds a half-written file under its real name.
 */
import { execFile } from 'node:child_process';
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
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { DirRef } from '../core/deep-path.js';
import { fsPath } from '../core/fs-names.js';
import type { FileEntry, SymlinkEntry, Timestamp } from '../manifest/types.js';

/** Prefix of every temporary name a restore creates (and skips when scanning). */
export const RESTORE_TEMP_PREFIX = '.cairn-tmp-';

/** Running as root: ownership is restored too. */
export const isRoot = process.getuid?.() === 0;

/** A fresh temporary name in `dir`. */
export function tempName(dir: string): string {
  return join(dir, tempBase());
}

function tempBase(): string {
  return `${RESTORE_TEMP_PREFIX}${randomBytes(8).toString('hex')}`;
}

function removeQuietly(path: string | Buffer): void {
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
 * Runs `fn` with directory `dir` reachable (however long its path, see core/deep-path),
 * closing it when `fn` settles.
 */
export async function inDirectory<T>(dir: string, fn: (d: DirRef) => Promise<T>): Promise<T> {
  const d = DirRef.open(dir);
  try {
    return await fn(d);
  } finally {
    d.close();
  }
}

function inDirectorySync<T>(dir: string, fn: (d: DirRef) => T): T {
  const d = DirRef.open(dir);
  try {
    return fn(d);
  } finally {
    d.close();
  }
}

/**
 * Writes a file whose content is in the tree (inline or empty) with synchronous calls:
 * for small files these cost microseconds where promises cost tens of microseconds.
 * `path` is `dir` joined with the entry's name.
 */
export function writeSmallFileSync(e: FileEntry, dir: string, path: string): void {
  inDirectorySync(dir, (d) => {
    const tmp = d.child(tempBase());
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
      renameSync(tmp, d.child(basename(path)));
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      removeQuietly(tmp);
      throw err;
    }
  });
}

function writeAllSync(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, done);
}

/** Creates a symlink with its metadata under a temporary name, then renames it. */
export function writeSymlinkSync(e: SymlinkEntry, dir: string, path: string): void {
  inDirectorySync(dir, (d) => {
    const tmp = d.child(tempBase());
    try {
      symlinkSync(fsPath(e.target), tmp);
      if (isRoot) lchownSync(tmp, e.uid, e.gid);
      const t = toSeconds(e.mtime);
      lutimesSync(tmp, t, t);
      renameSync(tmp, d.child(basename(path)));
    } catch (err) {
      removeQuietly(tmp);
      throw err;
    }
  });
}

/**
 * Creates something at a temporary name in `dir` with `make` (given the temporary path
 * as `fs` takes it), then renames it to `path` (`dir` joined with a name).
 */
export function replaceWith(
  dir: string,
  path: string,
  make: (tmp: string | Buffer) => Promise<void>,
): Promise<void> {
  return inDirectory(dir, async (d) => {
    const tmp = d.child(tempBase());
    try {
      await make(tmp);
      await rename(tmp, d.child(basename(path)));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  });
}

/**
 * Creates a FIFO (mode 0600) at `path` via a temporary name. `mkfifo` runs as a child
 * process, which takes string arguments and has its own /proc/self: a path that is not
 * a plain short string is passed through this process's descriptor of `dir`.
 */
export function makeFifo(dir: string, path: string): Promise<void> {
  return inDirectory(dir, async (d) => {
    const tmpBase = tempBase();
    const tmp = d.child(tmpBase);
    const forChild =
      typeof d.at === 'string' && !d.at.startsWith('/proc/self/') ? join(d.at, tmpBase) : undefined;
    try {
      if (forChild) await promisify(execFile)('mkfifo', ['-m', '600', forChild]);
      else {
        const fd = openSync(d.at, 'r');
        try {
          await promisify(execFile)('mkfifo', [
            '-m',
            '600',
            `/proc/${process.pid}/fd/${fd}/${tmpBase}`,
          ]);
        } finally {
          closeSync(fd);
        }
      }
      await rename(tmp, d.child(basename(path)));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  });
}

/** Writes all of `data` at `position`. */
export async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** A run of zeros to compare chunks against (a chunk is compared slice by slice). */
const ZEROS = Buffer.alloc(64 * 1024);

/** True when every byte of `data` is zero (such a chunk is restored as a hole). */
export function isAllZero(data: Uint8Array): boolean {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 0; at < buf.length; at += ZEROS.length) {
    const end = Math.min(buf.length, at + ZEROS.length);
    if (!buf.subarray(at, end).equals(ZEROS.subarray(0, end - at))) return false;
  }
  return true;
}
