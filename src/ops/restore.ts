/**
 * `restore`: writes a snapshot (or parts of it) into a target directory.
 *
 * Every file is written under a temporary name in its final directory and renamed into
 * place only when complete, so the target never holds a half-written file under its
 * real name. Every chunk is verified against its id before it is written. Directory
 * metadata is applied after the directory's children, since writing children changes
 * it. Names come from an untrusted repository but were validated by the decoder (no
 * `/`, `.`, `..`, NUL); restore also refuses to descend through a symlink it finds
 * where a directory should be, so nothing is ever written outside the target.
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
import {
  chmod,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  rename,
  unlink,
  utimes,
} from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { throwIfAborted } from '../core/abort.js';
import {
  CairnError,
  describeError,
  IntegrityError,
  NotFoundError,
  UsageError,
} from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { mapConcurrent, Semaphore } from '../core/limit.js';
import type { DirEntry, Entry, FileEntry, Snapshot, SymlinkEntry } from '../manifest/types.js';
import type { Repository } from '../repo/repository.js';
import { type RestoreEvent, Throttle } from './events.js';
import { findEntry, splitSnapshotPath } from './snapshot-path.js';

/** Options for `restore`. */
export interface RestoreOptions {
  /** Directory to restore into (created if missing). */
  target: string;
  /** Restore only these snapshot paths (and everything below them). */
  include?: string[];
  /** Emit a `file` event per restored file. */
  verbose?: boolean;
  /** Files written at once (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
  onEvent?: (event: RestoreEvent) => void;
}

/** What `restore` did. */
export interface RestoreSummary {
  files: number;
  dirs: number;
  symlinks: number;
  specials: number;
  bytes: number;
  /** Bytes of chunks read from the repository. */
  bytesFetched: number;
  /** Entries that could not be restored (each was reported as a warning). */
  errors: number;
  durationMs: number;
}

const CHUNK_FETCHES_PER_FILE = 4;
const isRoot = process.getuid?.() === 0;

/** Restores snapshot `snapshotId` (record `snapshot`) from `repo` into `options.target`. */
export async function restore(
  repo: Repository,
  snapshotId: ObjectId,
  snapshot: Snapshot,
  options: RestoreOptions,
): Promise<RestoreSummary> {
  const run = new RestoreRun(repo, options);
  const includes = options.include?.length ? options.include : undefined;
  let totals = { files: snapshot.summary.files, bytes: snapshot.summary.bytes };
  const targets: Array<{ entry: Entry | undefined; dir: string; parts: string[] }> = [];
  if (includes) {
    totals = { files: 0, bytes: 0 };
    for (const inc of includes) {
      const parts = splitSnapshotPath(inc);
      const entry =
        parts.length === 0
          ? undefined
          : await findEntry(repo, snapshot.tree, parts, options.signal);
      if (parts.length > 0 && !entry)
        throw new NotFoundError(inc, `${inc} is not in snapshot ${snapshotId}`);
      if (!entry) totals = { files: snapshot.summary.files, bytes: snapshot.summary.bytes };
      else if (entry.kind === 'dir') {
        totals.files += entry.files;
        totals.bytes += entry.bytes;
      } else if (entry.kind === 'file') {
        totals.files++;
        totals.bytes += entry.size;
      }
      targets.push({ entry, dir: join(options.target, ...parts.slice(0, -1)), parts });
    }
  }
  run.totals = totals;
  run.emit({
    type: 'start',
    operation: 'restore',
    snapshot: snapshotId,
    target: options.target,
    totalFiles: totals.files,
    totalBytes: totals.bytes,
  });
  await mkdir(options.target, { recursive: true });
  if (!includes) {
    await run.directoryContents(snapshot.tree, options.target);
  } else {
    for (const t of targets) {
      if (!t.entry) await run.directoryContents(snapshot.tree, options.target);
      else {
        await run.ensureParents(options.target, t.parts.slice(0, -1));
        await run.entry(t.entry, t.dir);
      }
    }
  }
  run.progress(true);
  return { ...run.summary, durationMs: Date.now() - run.started };
}

class RestoreRun {
  readonly started = Date.now();
  readonly summary = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    specials: 0,
    bytes: 0,
    bytesFetched: 0,
    errors: 0,
  };
  totals = { files: 0, bytes: 0 };
  private readonly fileSlots: Semaphore;
  private readonly throttle = new Throttle(200);
  /** First restored path of each hard-link group, once that file is complete. */
  private readonly hardlinks = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly repo: Repository,
    private readonly options: RestoreOptions,
  ) {
    this.fileSlots = new Semaphore(options.concurrency ?? 8);
  }

  emit(event: RestoreEvent): void {
    this.options.onEvent?.(event);
  }

  progress(force = false): void {
    if (!force && !this.throttle.due()) return;
    this.emit({
      type: 'progress',
      operation: 'restore',
      files: this.summary.files,
      bytes: this.summary.bytes,
      totalFiles: this.totals.files,
      totalBytes: this.totals.bytes,
      elapsedMs: Date.now() - this.started,
    });
  }

  private warn(path: string, err: unknown): void {
    this.summary.errors++;
    this.emit({
      type: 'warning',
      path,
      message: describeError(err),
      code: err instanceof CairnError ? err.code : 'io',
    });
  }

  /** Creates the directories `parts` under `root` (for --include), refusing symlinks. */
  async ensureParents(root: string, parts: string[]): Promise<void> {
    let dir = root;
    for (const p of parts) {
      dir = join(dir, p);
      await this.ensureDirectory(dir);
    }
  }

  /** Makes `path` a real directory; refuses to go through a symlink or replace a file. */
  private async ensureDirectory(path: string): Promise<void> {
    try {
      await mkdir(path, { mode: 0o700 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const st = await lstat(path);
    if (st.isSymbolicLink()) {
      throw new UsageError(`refusing to restore into ${path}: it is a symbolic link`);
    }
    if (!st.isDirectory())
      throw new UsageError(`cannot restore directory ${path}: a file is in the way`);
  }

  /** Restores every entry of tree `tree` into the existing directory `dir`. */
  async directoryContents(tree: ObjectId, dir: string): Promise<void> {
    const work = mapConcurrent(this.repo.trees.entries(tree, this.options.signal), 16, (e) =>
      this.entry(e, dir),
    );
    for await (const _ of work) {
      // entries restore themselves; errors inside are warnings
    }
  }

  /** Restores one entry into directory `dir`. */
  async entry(e: Entry, dir: string): Promise<void> {
    throwIfAborted(this.options.signal);
    const path = join(dir, e.name);
    try {
      switch (e.kind) {
        case 'dir':
          await this.directory(e, path);
          break;
        case 'file':
          await this.file(e, dir, path);
          break;
        case 'symlink':
          await this.symlink(e, dir, path);
          break;
        case 'fifo':
          await replaceWith(dir, path, (tmp) =>
            promisify(execFile)('mkfifo', ['-m', '600', tmp]).then(() => {}),
          );
          await this.applyMetadata(e, path, false);
          this.summary.specials++;
          break;
        default:
          this.warn(
            path,
            new CairnError(
              'unsupported',
              `a ${e.kind} is recorded in the snapshot but not restored`,
            ),
          );
      }
    } catch (err) {
      if (err instanceof CairnError && (err.code === 'aborted' || err.code === 'backend'))
        throw err;
      this.warn(path, err);
    }
  }

  private async directory(e: DirEntry, path: string): Promise<void> {
    await this.ensureDirectory(path);
    await this.directoryContents(e.tree, path);
    await this.applyMetadata(e, path, false);
    this.summary.dirs++;
  }

  private async file(e: FileEntry, dir: string, path: string): Promise<void> {
    if (e.hardlink !== undefined) {
      const first = this.hardlinks.get(e.hardlink);
      if (first) {
        const firstPath = await first;
        if (firstPath) {
          await replaceWith(dir, path, (tmp) => link(firstPath, tmp));
          this.countFile(e, path);
          return;
        }
      }
    }
    const done =
      e.chunks.length === 0
        ? this.writeFile(e, dir, path)
        : this.fileSlots.run(() => this.writeFile(e, dir, path));
    if (e.hardlink !== undefined && !this.hardlinks.has(e.hardlink)) {
      this.hardlinks.set(
        e.hardlink,
        done.then(
          () => path,
          () => undefined,
        ),
      );
    }
    await done;
    this.countFile(e, path);
  }

  private countFile(e: FileEntry, path: string): void {
    this.summary.files++;
    this.summary.bytes += e.size;
    if (this.options.verbose) this.emit({ type: 'file', path, size: e.size });
    this.progress();
  }

  private async writeFile(e: FileEntry, dir: string, path: string): Promise<void> {
    if (e.chunks.length === 0) {
      writeSmallFileSync(e, dir, path);
      return;
    }
    await replaceWith(dir, path, async (tmp) => {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        if (e.inline) {
          await fh.write(e.inline, 0, e.inline.length, 0);
        } else {
          let offset = 0;
          const fetched = mapConcurrent(e.chunks, CHUNK_FETCHES_PER_FILE, async (c) => {
            const data = await this.repo.blobs.get('data', c.id, { signal: this.options.signal });
            if (data.length !== c.size) {
              throw new IntegrityError(
                c.id,
                `data blob ${c.id} holds ${data.length} bytes, the tree says ${c.size}`,
              );
            }
            return data;
          });
          for await (const data of fetched) {
            await writeAll(fh, data, offset);
            offset += data.length;
            this.summary.bytesFetched += data.length;
          }
        }
        await fh.chmod(e.mode);
        if (isRoot) await fh.chown(e.uid, e.gid);
      } finally {
        await fh.close();
      }
      await utimes(tmp, toDate(e.mtime), toDate(e.mtime));
    });
  }

  private async symlink(e: SymlinkEntry, dir: string, path: string): Promise<void> {
    const tmp = tempName(dir);
    try {
      symlinkSync(e.target, tmp);
      if (isRoot) lchownSync(tmp, e.uid, e.gid);
      const t = toDate(e.mtime);
      lutimesSync(tmp, t, t);
      renameSync(tmp, path);
    } catch (err) {
      rmTempSync(tmp);
      throw err;
    }
    this.summary.symlinks++;
  }

  private async applyMetadata(e: Entry, path: string, isLink: boolean): Promise<void> {
    if (isRoot) await lchown(path, e.uid, e.gid);
    if (!isLink) await chmod(path, e.mode);
    const t = toDate(e.mtime);
    if (isLink) await lutimes(path, t, t);
    else await utimes(path, t, t);
  }
}

/** A fresh temporary name in `dir`. */
function tempName(dir: string): string {
  return join(dir, `.cairn-tmp-${randomBytes(8).toString('hex')}`);
}

function rmTempSync(tmp: string): void {
  try {
    unlinkSync(tmp);
  } catch {
    // it was never created
  }
}

/**
 * Writes a file whose content is in the tree (inline or empty) with synchronous calls:
 * for small files these cost microseconds where promises cost tens of microseconds.
 * Same guarantee as the async path: a temporary name, renamed when complete.
 */
function writeSmallFileSync(e: FileEntry, dir: string, path: string): void {
  const tmp = tempName(dir);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    if (e.inline) writeAllSync(fd, e.inline);
    fchmodSync(fd, e.mode);
    if (isRoot) fchownSync(fd, e.uid, e.gid);
    const t = toDate(e.mtime);
    futimesSync(fd, t, t);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmTempSync(tmp);
    throw err;
  }
}

function writeAllSync(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, done);
}

/** Creates something at a temporary name in `dir` with `make`, then renames it to `path`. */
async function replaceWith(
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

async function writeAll(
  fh: import('node:fs/promises').FileHandle,
  data: Uint8Array,
  position: number,
) {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Seconds + nanoseconds as a Date-compatible seconds value (µs precision). */
function toDate(t: { sec: number; nsec: number }): number {
  return t.sec + t.nsec / 1e9;
}
