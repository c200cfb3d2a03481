/**
 * File-system steps of a restore. Everything is created under a temporary name in its
 * final directory (`.cairn-tmp-<random>`) and renamed into place only when complete, so
 * a restore target never holds a half-written file under its real name.
 *
 * A directory the restore creates inside another one it created is itself made under a
 * temporary name (it is *staged*): its entries are then written at their final names
 * directly, since nobody can reach them before the directory is renamed into place,
 * complete. The steps below take `staged` for that case: one rename per directory
 * instead of one per file.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { type FileHandle, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { errnoCode } from '../backends/fs-errors.js';
import { DirRef, withFsPath, withFsPathSync } from '../core/deep-path.js';
import { hasCode } from '../core/errors.js';
import { fsPath, readdirNamesSync } from '../core/fs-names.js';
import { isRoot } from '../core/process.js';
import type { FileEntry, SymlinkEntry, Timestamp } from '../manifest/types.js';
import { setNewXattrs } from './restore-xattrs.js';

/** Prefix of every temporary name a restore creates. */
export const RESTORE_TEMP_PREFIX = '.cairn-tmp-';

/** The exact shape of a restore's temporary names (see tempBase). */
const RESTORE_TEMP_NAME = /^\.cairn-tmp-[0-9a-f]{16}$/;

/**
 * True for a name of the exact shape a restore gives its temporary files and staged
 * directories: what an interrupted restore may have left. Other names with the prefix
 * are ordinary names (a snapshot may hold them, a user may keep them).
 */
export function isRestoreTempName(name: string): boolean {
  return RESTORE_TEMP_NAME.test(name);
}

/** A fresh temporary name in `dir`. */
export function tempName(dir: string): string {
  return join(dir, tempBase());
}

/** A fresh temporary name in the open directory `d`, as `fs` takes it. */
export function tempChild(d: DirRef): string | Buffer {
  return d.child(tempBase());
}

/** Random per process, so temporary names of concurrent restores differ. */
const TEMP_STEM = `${RESTORE_TEMP_PREFIX}${randomBytes(4).toString('hex')}`;
let tempCounter = 0;

/**
 * A temporary name unique within this process: 16 hex digits, a per-process random stem
 * and a counter (random bytes per file cost more than writing a small file). Temporary
 * files are created with `wx`, so a clash with another process fails instead of sharing.
 */
function tempBase(): string {
  tempCounter = (tempCounter + 1) % 0x100000000;
  return TEMP_STEM + tempCounter.toString(16).padStart(8, '0');
}

/**
 * The process's umask, read once from /proc (Linux), or undefined when unknown.
 * `process.umask()` without an argument is deprecated because it briefly changes it.
 */
const UMASK: number | undefined = (() => {
  try {
    const m = /^Umask:\s+([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number.parseInt(m[1]!, 8) : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * True when creating a file with `mode` gives it exactly that mode (permission bits the
 * umask leaves alone, no setuid/setgid/sticky), so no separate chmod is needed.
 */
export function modeSurvivesCreate(mode: number): boolean {
  return UMASK !== undefined && (mode & ~0o777) === 0 && (mode & UMASK) === 0;
}

/** Removes `path` if it is there (a temporary file being abandoned). */
export function removeQuietly(path: string | Buffer): void {
  try {
    unlinkSync(path);
  } catch {
    // it was never created
  }
}

/** A timestamp as seconds, as utimes takes them (microsecond precision). */
export function toSeconds(t: Timestamp): number {
  // Node hands times to libuv as a double of seconds, and libuv truncates them toward
  // zero to whole microseconds. A double near 1.7e9 s is only good to about 0.24 µs, so
  // `sec + nsec / 1e9` could land above the next microsecond and restore a time later
  // than the recorded one. The middle of the recorded microsecond truncates to its start:
  // the half above it for times after 1970, the half below it for times before.
  const micros = Math.floor(t.nsec / 1000);
  return t.sec + (t.sec < 0 ? micros - 0.5 : micros + 0.5) / 1e6;
}

/**
 * A timestamp as the argument of utimes, futimes and lutimes. Node replaces a negative
 * number with the current time, but passes a numeric string through as it is, so times
 * before 1970 go as strings.
 */
export function utimeArg(t: Timestamp): number | string {
  const seconds = toSeconds(t);
  return seconds < 0 ? String(seconds) : seconds;
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

/** The owner a file created in some directory gets (see `newFileOwner`). */
export interface Owner {
  uid: number;
  gid: number;
}

/**
 * The owner a new file in directory `dir` gets: this process's effective user, and its
 * group unless `dir` is set-group-ID (then `dir`'s group). Undefined when not root
 * (ownership is then not restored) or when `dir` cannot be examined.
 */
export function newFileOwner(dir: string): Owner | undefined {
  if (!isRoot) return undefined;
  try {
    const st = withFsPathSync(dir, (at) => lstatSync(at));
    const gid = st.mode & 0o2000 ? st.gid : (process.getegid?.() ?? -1);
    return { uid: process.geteuid?.() ?? -1, gid };
  } catch {
    return undefined;
  }
}

/** What `writeSmallFileSync` needs of a file entry. */
export type SmallFile = Pick<
  FileEntry,
  'name' | 'mode' | 'uid' | 'gid' | 'mtime' | 'inline' | 'xattrs'
>;

/**
 * Writes a file whose content is in the tree (inline or empty) with synchronous calls:
 * for small files these cost microseconds where promises cost tens of microseconds.
 * `dir` is the directory (a path, or a `DirRef` a caller keeps open for many files);
 * the file is named `e.name` in it. `created`: the owner a new file in `dir` gets, when
 * known; ownership is then only changed when it differs. `staged`: `dir` is staged (see
 * the module comment), so the file is written at its name directly. Returns why its
 * extended attributes could not all be set (restore-xattrs.ts), if so.
 */
export function writeSmallFileSync(
  e: SmallFile,
  dir: string | DirRef,
  created?: Owner,
  staged = false,
): string | undefined {
  if (typeof dir === 'string') {
    return inDirectorySync(dir, (d) => writeSmallFileSync(e, d, created, staged));
  }
  const d = dir;
  const final = d.child(e.name);
  const tmp = staged ? final : d.child(tempBase());
  let fd: number | undefined;
  let made = false;
  try {
    // Created with its final mode when the umask allows: one call less per file. The
    // name is temporary until the rename, so the early mode exposes nothing new.
    // Not with attributes: a user's own read-only file takes no `user.*` attribute.
    const direct = modeSurvivesCreate(e.mode) && e.xattrs === undefined;
    fd = openSync(tmp, 'wx', direct ? e.mode : 0o600);
    made = true;
    if (e.inline && e.inline.length > 0) writeAllSync(fd, e.inline);
    if (isRoot && (created?.uid !== e.uid || created.gid !== e.gid)) fchownSync(fd, e.uid, e.gid);
    // After chown, which clears capabilities, set-user-ID and set-group-ID bits.
    const problem = setNewXattrs(fd, e.xattrs);
    if (!direct) fchmodSync(fd, e.mode);
    const t = utimeArg(e.mtime);
    futimesSync(fd, t, t);
    closeSync(fd);
    fd = undefined;
    if (!staged) renameSync(tmp, final);
    return problem;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    // Only what this call made: a name it found taken (EEXIST) is someone else's.
    if (made) removeQuietly(tmp);
    throw err;
  }
}

function writeAllSync(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, done);
}

/**
 * Creates a symlink with its metadata under a temporary name, then renames it (at its
 * name directly when `dir` is staged). Returns why its extended attributes could not
 * all be set, if so.
 */
export function writeSymlinkSync(
  e: SymlinkEntry,
  dir: string,
  path: string,
  staged = false,
): string | undefined {
  return inDirectorySync(dir, (d) => {
    const final = d.child(basename(path));
    const tmp = staged ? final : d.child(tempBase());
    let made = false;
    try {
      symlinkSync(fsPath(e.target), tmp);
      made = true;
      if (isRoot) lchownSync(tmp, e.uid, e.gid);
      const problem = setNewXattrs(tmp, e.xattrs);
      const t = utimeArg(e.mtime);
      lutimesSync(tmp, t, t);
      if (!staged) renameSync(tmp, final);
      return problem;
    } catch (err) {
      if (made) removeQuietly(tmp);
      throw err;
    }
  });
}

/**
 * Makes `path` (`dir` joined with a name) a hard link to the existing file `from`, via a
 * temporary name unless `dir` is staged. Synchronous, so no staged directory is renamed
 * between the caller finding where `from` is now and the link.
 */
export function hardLinkSync(from: string, dir: string, path: string, staged = false): void {
  withFsPathSync(from, (source) =>
    inDirectorySync(dir, (d) => {
      const final = d.child(basename(path));
      const tmp = staged ? final : d.child(tempBase());
      let made = false;
      try {
        linkSync(source, tmp);
        made = true;
        if (!staged) renameSync(tmp, final);
      } catch (err) {
        if (made) removeQuietly(tmp);
        throw err;
      }
    }),
  );
}

/**
 * Makes a new directory under a temporary name in `dir` (mode 0700 until its metadata is
 * applied) for a staged restore of one of `dir`'s subdirectories; its path.
 */
export function makeStagedDirSync(dir: string): string {
  return inDirectorySync(dir, (d) => {
    const base = tempBase();
    mkdirSync(d.child(base), { mode: 0o700 });
    return join(dir, base);
  });
}

/**
 * Removes a file or a directory with everything below it: a temporary file or staged
 * directory of a restore, or an extra that `--delete` removes. When the quick way is
 * refused — read-only folders inside (a staged directory gets its modes before it is
 * renamed; a restored tree has the snapshot's; root is not refused) or a tree deeper
 * than PATH_MAX — it goes step by step below open directories, making each folder
 * writable first.
 */
export async function removeWholeTree(path: string): Promise<void> {
  try {
    await withFsPath(path, (at) => rm(at, { recursive: true, force: true }));
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENAMETOOLONG') throw err;
    inDirectorySync(dirname(path), (parent) => removeBelowSync(parent, basename(path)));
  }
}

/** Removes entry `name` of `dir` and everything below it (see removeWholeTree). */
function removeBelowSync(dir: DirRef, name: string): void {
  const at = dir.child(name);
  const st = lstatSync(at, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isDirectory()) {
    unlinkSync(at);
    return;
  }
  chmodSync(at, 0o700);
  const sub = dir.sub(name);
  try {
    for (const child of readdirNamesSync(sub.at)) removeBelowSync(sub, child);
  } finally {
    sub.close();
  }
  rmdirSync(at);
}

/** Renames the staged directory `staged` (made by `makeStagedDirSync` in `dir`) to `path`. */
export function publishStagedDirSync(dir: string, staged: string, path: string): void {
  inDirectorySync(dir, (d) => renameSync(d.child(basename(staged)), d.child(basename(path))));
}

/**
 * Creates something at a temporary name in `dir` with `make` (given the temporary path
 * as `fs` takes it), then renames it to `path` (`dir` joined with a name). In a staged
 * `dir`, `make` is given the final name. `make` must create its path exclusively (`wx`):
 * on failure the path is removed, unless the restore was stopped (AbortedError) with
 * bytes written: the next restore into the target reuses their chunks, as after a kill.
 */
export function replaceWith(
  dir: string,
  path: string,
  make: (tmp: string | Buffer) => Promise<void>,
  staged = false,
): Promise<void> {
  return inDirectory(dir, async (d) => {
    const final = d.child(basename(path));
    const tmp = staged ? final : d.child(tempBase());
    try {
      await make(tmp);
      if (!staged) await rename(tmp, final);
    } catch (err) {
      // An exclusive create that found the name taken: not this call's to remove.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw err;
      const keep =
        hasCode(err, 'aborted') && ((await stat(tmp).catch(() => undefined))?.size ?? 0) > 0;
      if (!keep) await unlink(tmp).catch(() => {});
      throw err;
    }
  });
}

/**
 * Creates a FIFO (mode 0600) at `path` via a temporary name, in staged directories too.
 * `mkfifo` runs as a child process, which takes string arguments and has its own
 * /proc/self: a path that is not a plain short string is passed through this process's
 * descriptor of `dir` (the temporary name is plain ASCII; the real one may not be).
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

/** Writes all of `parts`, one after another, starting at `position` (one call if it can). */
export async function writevAll(
  fh: FileHandle,
  parts: Uint8Array[],
  position: number,
): Promise<void> {
  let total = 0;
  for (const p of parts) total += p.length;
  const { bytesWritten } = await fh.writev(parts, position);
  if (bytesWritten >= total) return;
  // A short write (rare: a signal, a full disk about to fail): the rest part by part.
  let skip = bytesWritten;
  let at = position;
  for (const p of parts) {
    if (skip < p.length) await writeAll(fh, p.subarray(skip), at + skip);
    skip = Math.max(0, skip - p.length);
    at += p.length;
  }
}

/** `writevAll` with synchronous calls, on a descriptor. */
export function writevAllSync(fd: number, parts: Uint8Array[], position: number): void {
  let total = 0;
  for (const p of parts) total += p.length;
  const written = writevSync(fd, parts, position);
  if (written >= total) return;
  let skip = written;
  let at = position;
  for (const p of parts) {
    if (skip < p.length) {
      const rest = p.subarray(skip);
      let done = 0;
      while (done < rest.length)
        done += writeSync(fd, rest, done, rest.length - done, at + skip + done);
    }
    skip = Math.max(0, skip - p.length);
    at += p.length;
  }
}
