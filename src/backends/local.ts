/**
 * A backend over a directory of the local file system: key `a/b/c` is the file
 * `<root>/a/b/c`.
 *
 * Writes are atomic and durable: `put` writes a temporary file (named `.tmp~<random>`,
 * which is never a valid key, so `list` skips it) in the target directory, fsyncs it,
 * renames it into place and fsyncs the directory. `ifNotExists` hard-links the temporary
 * file to the final name instead, which fails with EEXIST if another writer got there
 * first, so concurrent creators are safe. A crash leaves at most a stale temporary file,
 * which `cleanupTemp` removes.
 */
import { randomBytes } from 'node:crypto';
import type { Dir, Dirent, Stats } from 'node:fs';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { throwIfAborted } from '../core/abort.js';
import { CairnError, NotFoundError } from '../core/errors.js';
import { makeDirectories } from '../core/mkdirs.js';
import type {
  Backend,
  BackendCapabilities,
  CallOptions,
  GetOptions,
  ObjectInfo,
  PutOptions,
} from './backend.js';
import { errnoCode, fsError } from './fs-errors.js';
import { checkKey, checkPrefix, isValidKey } from './keys.js';
import type { LocalDirectSetup } from './local-direct.js';
import { checkRangeOptions, resolveRange } from './range.js';

/** Name prefix of in-progress writes. `~` is outside the key alphabet. */
export const TEMP_PREFIX = '.tmp~';

/** Largest single read; the signal is checked between reads. */
const READ_CHUNK = 4 * 1024 * 1024;

/** Entries of one directory that `list` stats concurrently. */
const STAT_BATCH = 64;

/** Keys are at most this long, which also bounds the walk through symlink loops. */
const MAX_KEY_LENGTH = 512;

/** `link` errors that mean "this file system has no hard links", not a real failure. */
export const NO_HARD_LINKS: ReadonlySet<string> = new Set([
  'EPERM',
  'ENOTSUP',
  'EOPNOTSUPP',
  'ENOSYS',
]);

/** Options for LocalBackend. */
export interface LocalBackendOptions {
  /**
   * fsync each written file and its directory (default true). Turning it off is only
   * for tests and scratch repositories: a power loss may then lose or truncate objects.
   */
  fsync?: boolean;
}

/** A Backend storing each object as a file under a root directory. */
export class LocalBackend implements Backend {
  /**
   * Directories this backend created or found, so `put` skips their mkdir: each settles
   * once its entry is durable, and a put arriving meanwhile waits for that too.
   */
  private readonly knownDirs = new Map<string, Promise<void>>();

  /** Absolute path of the root directory. */
  readonly root: string;
  private readonly fsync: boolean;
  private caps: BackendCapabilities = { writable: true, listable: true, atomicCreate: true };

  /**
   * @param rootDir the directory holding the objects; created on the first put.
   */
  constructor(rootDir: string, options: LocalBackendOptions = {}) {
    this.root = path.resolve(rootDir);
    this.fsync = options.fsync ?? true;
  }

  get location(): string {
    return this.root;
  }

  /** atomicCreate turns false if the file system turns out to lack hard links. */
  get capabilities(): BackendCapabilities {
    return this.caps;
  }

  /**
   * How a worker thread may write into this repository itself (local-direct.ts), or
   * undefined when it may not (a file system without hard links).
   */
  directSetup(): LocalDirectSetup | undefined {
    return this.caps.atomicCreate ? { root: this.root, fsync: this.fsync } : undefined;
  }

  /** The file that holds `key`. */
  pathOf(key: string): string {
    return path.join(this.root, ...checkKey(key).split('/'));
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    const file = this.pathOf(key);
    checkRangeOptions(key, options);
    const signal = options?.signal;
    throwIfAborted(signal);
    let fh: FileHandle;
    try {
      fh = await fs.open(file, 'r');
    } catch (err) {
      throw this.readError(err, 'get', key, file);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw this.notFound(key, file);
      const { start, end } = resolveRange(key, st.size, options, this.location);
      const out = new Uint8Array(end - start);
      let done = 0;
      while (done < out.length) {
        throwIfAborted(signal);
        const want = Math.min(READ_CHUNK, out.length - done);
        const { bytesRead } = await fh.read(out, done, want, start + done);
        if (bytesRead === 0) break; // cannot happen for files we wrote; never loop forever
        done += bytesRead;
      }
      return done === out.length ? out : out.slice(0, done);
    } catch (err) {
      throw this.readError(err, 'get', key, file);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    const file = this.pathOf(key);
    const signal = options?.signal;
    throwIfAborted(signal);
    const dir = path.dirname(file);
    const temp = path.join(dir, TEMP_PREFIX + randomBytes(8).toString('hex'));
    let tempCreated = false;
    try {
      await this.makeDir(dir);
      let fh: FileHandle;
      try {
        fh = await fs.open(temp, 'wx', 0o644);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        // The folder was removed behind our back: create it again.
        this.knownDirs.delete(dir);
        await this.makeDir(dir);
        fh = await fs.open(temp, 'wx', 0o644);
      }
      tempCreated = true;
      try {
        await fh.writeFile(data);
        if (this.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      // Last point where cancelling leaves no trace.
      throwIfAborted(signal);
      if (options?.ifNotExists) {
        if (!(await this.linkExclusive(temp, file))) return false;
      } else {
        await fs.rename(temp, file);
        tempCreated = false;
      }
      await this.syncDir(dir);
      return true;
    } catch (err) {
      throw err instanceof CairnError ? err : fsError(err, 'put', key, file);
    } finally {
      if (tempCreated) await fs.unlink(temp).catch(() => {});
    }
  }

  async stat(key: string, options?: CallOptions): Promise<ObjectInfo> {
    const file = this.pathOf(key);
    throwIfAborted(options?.signal);
    try {
      const st = await fs.stat(file);
      if (!st.isFile()) throw this.notFound(key, file);
      return { key, size: st.size };
    } catch (err) {
      throw this.readError(err, 'stat', key, file);
    }
  }

  async *list(prefix: string, options?: CallOptions): AsyncGenerator<ObjectInfo> {
    checkPrefix(prefix);
    throwIfAborted(options?.signal);
    // 'data/ab' lists the entries of 'data/' whose names start with 'ab'.
    const cut = prefix.lastIndexOf('/') + 1;
    yield* this.walk(prefix.slice(0, cut), prefix.slice(cut), options?.signal);
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    const file = this.pathOf(key);
    throwIfAborted(options?.signal);
    try {
      await fs.unlink(file);
    } catch (err) {
      const code = errnoCode(err);
      // Missing file, missing parent, or a directory in its place: the object is absent.
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return;
      throw fsError(err, 'delete', key, file);
    }
    // A deletion that a crash undoes could resurrect a released lock.
    await this.syncDir(path.dirname(file));
  }

  async close(): Promise<void> {
    // No handles are kept open between calls.
  }

  /**
   * Removes temporary files of interrupted writes older than `olderThanMs` (default one
   * hour, so writes in progress are left alone). Resolves to the number removed (with
   * `dryRun`, the number that would be, none removed).
   */
  async cleanupTemp(olderThanMs = 60 * 60 * 1000, dryRun = false): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        throw fsError(err, 'clean up', '(temporary files)', dir);
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          await visit(full);
        } else if (entry.name.startsWith(TEMP_PREFIX)) {
          const st = await fs.stat(full).catch(() => undefined);
          if (st && st.mtimeMs < cutoff) {
            if (!dryRun) await fs.unlink(full).catch(() => {});
            removed++;
          }
        }
      }
    };
    await visit(this.root);
    return removed;
  }

  /**
   * Yields the objects under directory key `dirKey` ('' or ending in '/') whose names
   * start with `namePrefix` (which applies to this directory's entries only).
   */
  private async *walk(
    dirKey: string,
    namePrefix: string,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ObjectInfo> {
    const dirPath = path.join(this.root, ...dirKey.split('/').filter((s) => s !== ''));
    let dir: Dir;
    try {
      dir = await fs.opendir(dirPath);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw fsError(err, 'list', dirKey === '' ? '(root)' : dirKey, dirPath);
    }
    let batch: Dirent[] = [];
    // Iterating a Dir closes it when the loop ends, throws or is abandoned.
    for await (const entry of dir) {
      throwIfAborted(signal);
      // Skips temporary files and anything else that is not a valid key segment.
      if (!entry.name.startsWith(namePrefix) || !isValidKey(entry.name)) continue;
      if (dirKey.length + entry.name.length > MAX_KEY_LENGTH) continue;
      batch.push(entry);
      if (batch.length === STAT_BATCH) {
        yield* this.expand(dirKey, dirPath, batch, signal);
        batch = [];
      }
    }
    yield* this.expand(dirKey, dirPath, batch, signal);
  }

  /** Stats a batch of one directory's entries at once, then yields files and descends. */
  private async *expand(
    dirKey: string,
    dirPath: string,
    entries: Dirent[],
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ObjectInfo> {
    const found = await Promise.all(entries.map((e) => this.describeEntry(dirKey, dirPath, e)));
    for (const entry of found) {
      if (entry === undefined) continue;
      if (entry.isDir) yield* this.walk(`${entry.key}/`, '', signal);
      else yield { key: entry.key, size: entry.size };
    }
  }

  /** What a directory entry is: a folder, an object with its size, or nothing to list. */
  private async describeEntry(
    dirKey: string,
    dirPath: string,
    entry: Dirent,
  ): Promise<{ key: string; isDir: boolean; size: number } | undefined> {
    const key = dirKey + entry.name;
    if (entry.isDirectory()) return { key, isDir: true, size: 0 };
    // Files, symlinks, and entries of unknown type: stat tells what they are.
    const full = path.join(dirPath, entry.name);
    let st: Stats;
    try {
      st = await fs.stat(full);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined; // deleted while we listed
      throw fsError(err, 'list', key, full);
    }
    if (st.isDirectory()) return { key, isDir: true, size: 0 };
    return st.isFile() ? { key, isDir: false, size: st.size } : undefined;
  }

  /** Creates `dir` and any missing parents, making new directory entries durable. */
  private makeDir(dir: string): Promise<void> {
    // Most puts go to one of 256 shard folders: remember the ones known to exist.
    const known = this.knownDirs.get(dir);
    if (known) return known;
    const ready = this.createDir(dir);
    if (this.knownDirs.size < 4096) {
      this.knownDirs.set(dir, ready);
      ready.catch(() => {
        if (this.knownDirs.get(dir) === ready) this.knownDirs.delete(dir);
      });
    }
    return ready;
  }

  private async createDir(dir: string): Promise<void> {
    const first = await makeDirectories(dir, (d) => fs.mkdir(d));
    if (!this.fsync) return;
    for (const parent of parentsToSync(dir, first)) await this.syncDir(parent);
  }

  /** Links `temp` to `file` unless `file` exists. Resolves false if it did exist. */
  private async linkExclusive(temp: string, file: string): Promise<boolean> {
    try {
      await fs.link(temp, file);
      return true;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EEXIST') return false;
      if (code === undefined || !NO_HARD_LINKS.has(code)) throw err;
    }
    // No hard links here (FAT, some network shares): check, then rename. Two creators
    // racing may both win, which the capabilities now admit.
    this.caps = { ...this.caps, atomicCreate: false };
    try {
      await fs.lstat(file);
      return false;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    await fs.rename(temp, file);
    return true;
  }

  /** fsyncs a directory so renames and unlinks in it survive a crash. Best effort. */
  private async syncDir(dir: string): Promise<void> {
    if (!this.fsync) return;
    let fh: FileHandle | undefined;
    try {
      fh = await fs.open(dir, 'r');
      await fh.sync();
    } catch {
      // Some platforms and file systems cannot fsync a directory; the data file is synced.
    } finally {
      await fh?.close().catch(() => {});
    }
  }

  private notFound(key: string, file: string): NotFoundError {
    return new NotFoundError(key, `not found: ${key} (${file})`);
  }

  /** Like fsError, but a file in place of a parent directory also means "not found". */
  private readError(err: unknown, verb: string, key: string, file: string): CairnError {
    if (err instanceof CairnError) return err;
    if (errnoCode(err) === 'ENOTDIR') return this.notFound(key, file);
    return fsError(err, verb, key, file);
  }
}

/**
 * The folders to fsync so that folder `dir` exists durably, given what
 * `mkdir(dir, { recursive: true })` returned (the first folder it made, or undefined when
 * `dir` was there): the parent of each folder made. A folder found there gets its parent
 * fsynced once more (cheap): another thread or process may have made it a moment ago and
 * not fsynced that parent yet.
 */
export function parentsToSync(dir: string, first: string | undefined): string[] {
  if (first === undefined) return [path.dirname(dir)];
  const parents: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    parents.push(path.dirname(d));
    if (d === first || d === path.dirname(d)) break;
  }
  return parents;
}
