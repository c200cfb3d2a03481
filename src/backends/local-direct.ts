/**
 * Writing many objects into a local repository from a worker thread, with the same
 * on-disk protocol as LocalBackend.put with `ifNotExists`: a temporary file in the
 * target directory, fsynced, hard-linked to its final name (EEXIST: another writer got
 * there first, nothing written), the temporary name removed, the directory fsynced.
 *
 * Where LocalBackend.put pays a thread-pool round trip per system call, this makes the
 * cheap calls synchronously (on a worker thread that blocks nobody) and runs the
 * fsyncs of a whole batch at once in the thread pool, so their latencies overlap.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import path from 'node:path';
import { BackendError } from '../core/errors.js';
import { settleAll } from '../core/limit.js';
import { errnoCode, fsError } from './fs-errors.js';
import { checkKey } from './keys.js';
import { NO_HARD_LINKS, parentsToSync, TEMP_PREFIX } from './local.js';
import { syncFileSystem } from './syncfs.js';
import { UncachedObjectWrites } from './uncached-objects.js';

/** What a worker needs to write into a local repository directly (structured-cloneable). */
export interface LocalDirectSetup {
  root: string;
  fsync: boolean;
}

/** One object to write: its bytes are the concatenation of `parts`. */
export interface DirectItem {
  key: string;
  parts: Uint8Array[];
}

interface OpenItem {
  key: string;
  file: string;
  temp: string;
  fd: number;
  /** Folders `writeTemps` created for it, whose entries need an fsync where `syncfs` fails. */
  newDirs?: string[];
  /** Its bytes being written uncached (`writeTemps`); settles once they are, fd closed. */
  writing?: Promise<void>;
}

/** Synchronous-path writer for one local repository root; see the module comment. */
export class LocalDirectWriter {
  private readonly knownDirs = new Set<string>();
  /**
   * Folders this writer made whose entries are not known durable yet, with the folders
   * to fsync for that. An object written into one meanwhile by another batch fsyncs
   * them too: else that batch, finishing first, would report its object durable while
   * a crash could still lose the folder holding it.
   */
  private readonly undurableDirs = new Map<string, string[]>();
  /** Temporary names: a random prefix per writer and a counter (no entropy per file). */
  private readonly tempStem = TEMP_PREFIX + randomBytes(6).toString('hex');
  private counter = 0;
  private hardLinks = true;
  private syncfsWorks = process.platform === 'linux';
  private nextSync: Promise<boolean> | undefined;
  private runningSync: Promise<void> | undefined;
  /** Large objects of `writeTemps` are written around the page cache (uncached-objects.ts). */
  private readonly uncached = new UncachedObjectWrites();

  constructor(private readonly setup: LocalDirectSetup) {}

  private fileOf(key: string): string {
    return path.join(this.setup.root, ...checkKey(key).split('/'));
  }

  /** True if `key` is stored (a regular file). */
  has(key: string): boolean {
    return this.sizeOf(key) !== undefined;
  }

  /** The stored size of `key`, or undefined if it is not stored. */
  sizeOf(key: string): number | undefined {
    const st = statSync(this.fileOf(key), { throwIfNoEntry: false });
    return st?.isFile() ? st.size : undefined;
  }

  /**
   * Writes every item unless its key exists; resolves, per item, whether this call
   * wrote it. On failure no temporary file is left and the error names the object.
   *
   * The bytes are written before this returns, and nothing holds `items` while the
   * fsyncs run: a caller's buffers (a tree page) become garbage at once instead of
   * living through the wait into the old generation (docs/performance.md › Memory).
   */
  putMany(items: DirectItem[]): Promise<boolean[]> {
    const opened: OpenItem[] = [];
    const syncDirs = new Set<string>();
    try {
      for (const item of items) opened.push(this.writeTemp(item, syncDirs, 'open'));
    } catch (err) {
      removeTemps(opened);
      return Promise.reject(err);
    }
    return this.finishPuts(opened, syncDirs);
  }

  /** The durable half of `putMany`: fsyncs, names, folder fsyncs; temporaries removed. */
  private async finishPuts(opened: OpenItem[], syncDirs: Set<string>): Promise<boolean[]> {
    try {
      // All settled before any fd is closed (the finally below): a failed fsync must not
      // close the others' descriptors under them.
      if (this.setup.fsync) await settleAll(opened.map((o) => fsyncFd(o.fd, o.key, o.temp)));
      const written: boolean[] = [];
      for (const o of opened) {
        const fd = o.fd;
        o.fd = -1;
        closeSync(fd);
        const ok = this.publish(o);
        if (ok) syncDirs.add(path.dirname(o.file));
        written.push(ok);
      }
      if (this.setup.fsync) {
        await Promise.all([...syncDirs].map(syncDir));
        this.markDurable(syncDirs);
      }
      return written;
    } finally {
      removeTemps(opened);
    }
  }

  /**
   * Group commit (Linux, fsync on): true when `writeTemps` + `publishAll` make a large
   * batch durable with two `syncfs` calls (one before the names, one after) instead of
   * one fsync per object and per directory; the promise is the same: an object gets its
   * final name only after its bytes are durable, and is reported written only once the
   * name is. Single objects (tree pages) use it too, each committed at once, until a
   * commit is slow: a `syncfs` also waits for what other processes wrote, and then
   * they go back to `putMany` and its fsyncs (chunk-serve.ts).
   */
  get groupSync(): boolean {
    return this.setup.fsync && this.syncfsWorks;
  }

  /**
   * Writes and closes temporary files for `items` (nothing fsynced, nothing named yet).
   * Large objects may still be being written when this returns: `publishAll` waits for
   * them, and fails with their errors.
   */
  writeTemps(items: DirectItem[], uncached = false): PendingObject[] {
    const opened: OpenItem[] = [];
    try {
      for (const item of items) {
        const o = this.writeTemp(item, undefined, uncached ? 'uncached' : 'close');
        opened.push(o);
      }
      return opened;
    } catch (err) {
      removeTemps(opened);
      throw err;
    }
  }

  /**
   * Makes the temporary files durable (one shared `syncfs`, or fsyncs where that is not
   * available) and gives them their final names; resolves per object whether it was
   * written (false: it existed). Temporary files are removed in every case.
   */
  async publishAll(pending: PendingObject[]): Promise<boolean[]> {
    const opened = pending as OpenItem[];
    try {
      if (opened.length === 0) return [];
      await writesOf(opened);
      if (this.setup.fsync) await this.barrier(opened);
      const written = opened.map((o) => this.publish(o));
      if (!this.setup.fsync) return written;
      // And the names durable before anyone relies on them (a tree naming these
      // objects must never outlive them in a crash).
      const made = [...this.undurableDirs.keys()];
      if (await this.syncAll()) {
        // A syncfs run after the folders were made covers their entries.
        for (const dir of made) this.undurableDirs.delete(dir);
      } else {
        const dirs = new Set(opened.filter((_, i) => written[i]).map((o) => path.dirname(o.file)));
        for (const o of opened) for (const d of o.newDirs ?? []) dirs.add(d);
        await Promise.all([...dirs].map(syncDir));
        this.markDurable(dirs);
      }
      return written;
    } finally {
      removeTemps(opened);
    }
  }

  /** Removes temporary files from `writeTemps` that will not be published. */
  discard(pending: PendingObject[]): void {
    removeTemps(pending as OpenItem[]);
  }

  /**
   * Undefined, or a promise to wait for before the next `writeTemps(items, true)`: many
   * uncached writes are under way (see UncachedObjectWrites.room).
   */
  uncachedRoom(): Promise<void> | undefined {
    return this.uncached.room();
  }

  /** Resolves once no write `writeTemps` started is still running (before a thread stops). */
  settled(): Promise<void> {
    return this.uncached.settled();
  }

  /**
   * Writes one temporary file and leaves it `open`, or closes it (its fd is -1 then),
   * or has it written `uncached` (see writeTemps), which closes it when done.
   */
  private writeTemp(
    item: DirectItem,
    syncDirs: Set<string> | undefined,
    then: 'open' | 'close' | 'uncached',
  ): OpenItem {
    const file = this.fileOf(item.key);
    const dir = path.dirname(file);
    const temp = path.join(dir, `${this.tempStem}-${this.counter++}`);
    const dirs = syncDirs ?? new Set<string>();
    this.makeDir(dir, dirs, item.key);
    let fd: number;
    try {
      fd = openSync(temp, 'wx', 0o644);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw fsError(err, 'put', item.key, temp);
      // The folder was removed behind our back: create it again.
      this.knownDirs.delete(dir);
      this.makeDir(dir, dirs, item.key);
      try {
        fd = openSync(temp, 'wx', 0o644);
      } catch (again) {
        // Not "not found": the object is being written, its folder vanished twice.
        if (errnoCode(again) === 'ENOENT') {
          throw new BackendError(
            `put ${item.key} failed at ${temp}: its folder was removed while writing (ENOENT)`,
            { retryable: true, cause: again },
          );
        }
        throw fsError(again, 'put', item.key, temp);
      }
    }
    const o: OpenItem = { key: item.key, file, temp, fd };
    // Folders made for an object of `writeTemps` go with it (see publishAll's fallback).
    if (!syncDirs && dirs.size > 0) o.newDirs = [...dirs];
    try {
      if (then === 'uncached' && this.writeUncached(o, item)) return o;
      writeAll(fd, item.parts, item.key, temp);
    } catch (err) {
      closeSync(fd);
      o.fd = -1;
      removeTemps([o]);
      throw err;
    }
    if (then !== 'open') {
      closeSync(fd);
      o.fd = -1;
    }
    return o;
  }

  /**
   * Starts writing `item` into `o`'s temporary file uncached (see uncached-objects.ts),
   * which takes over its descriptor; false when it goes through the cache instead.
   */
  private writeUncached(o: OpenItem, item: DirectItem): boolean {
    const { key, temp } = o;
    let total = 0;
    for (const part of item.parts) total += part.length;
    let writing: Promise<void> | undefined;
    try {
      writing = this.uncached.start(temp, o.fd, item.parts, total);
    } catch (err) {
      throw fsError(err, 'put', key, temp);
    }
    if (!writing) return false;
    o.fd = -1;
    // Names only: a closure holding `item` would keep its bytes (a sealed chunk's own
    // buffer) alive until the write is done, long enough to be promoted.
    o.writing = writing.catch((err) => {
      throw fsError(err, 'put', key, temp);
    });
    o.writing.catch(() => {}); // awaited by publishAll; a discarded object's failure is moot
    return true;
  }

  /**
   * Resolves once the bytes of `objects` (and everything written before the call) are
   * durable: a shared `syncfs`, or fsyncs of `objects` where that is unavailable.
   */
  private async barrier(objects: OpenItem[]): Promise<void> {
    if (await this.syncAll()) return;
    await Promise.all(objects.map((o) => fsyncPath(o.temp, o.key)));
  }

  /**
   * Runs the next `syncfs` that starts after this call (callers arriving while one
   * runs share the following one); false when `sync -f` is unavailable here.
   */
  private async syncAll(): Promise<boolean> {
    if (!this.syncfsWorks) return false;
    this.nextSync ??= (async () => {
      await this.runningSync?.catch(() => {});
      this.nextSync = undefined;
      const run = syncFileSystem(this.setup.root);
      this.runningSync = run.then(() => {});
      return run;
    })();
    if (await this.nextSync) return true;
    this.syncfsWorks = false;
    return false;
  }

  /** Gives the temporary file its final name unless that exists; true if it did. */
  private publish(o: OpenItem): boolean {
    if (this.hardLinks) {
      try {
        linkSync(o.temp, o.file);
        return true;
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'EEXIST') return false;
        if (code === undefined || !NO_HARD_LINKS.has(code))
          throw fsError(err, 'put', o.key, o.file);
        this.hardLinks = false;
      }
    }
    // No hard links (FAT, some shares): check, then rename, as LocalBackend does.
    if (lstatSync(o.file, { throwIfNoEntry: false })) return false;
    renameSync(o.temp, o.file);
    return true;
  }

  /**
   * Creates `dir` if needed; new directories (and their parents) are queued for fsync.
   * A failure is a repository error naming the object `key` it was made for.
   */
  private makeDir(dir: string, syncDirs: Set<string>, key: string): void {
    if (this.knownDirs.has(dir)) {
      for (const d of this.undurableDirs.get(dir) ?? []) syncDirs.add(d);
      return;
    }
    let first: string | undefined;
    try {
      first = mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw fsError(err, 'put', key, dir);
    }
    const parents = parentsToSync(dir, first);
    for (const d of parents) syncDirs.add(d);
    if (this.knownDirs.size < 4096) {
      this.knownDirs.add(dir);
      if (this.setup.fsync) this.undurableDirs.set(dir, parents);
    }
  }

  /** Forgets the folders whose entries the fsyncs of `synced` made durable. */
  private markDurable(synced: Set<string>): void {
    for (const [dir, parents] of this.undurableDirs) {
      if (parents.every((d) => synced.has(d))) this.undurableDirs.delete(dir);
    }
  }
}

/** A temporary file written by `writeTemps`, to be given to `publishAll`. */
export interface PendingObject {
  readonly key: string;
}

/** Waits for the uncached writes of `opened` to finish; the first failure is thrown. */
async function writesOf(opened: OpenItem[]): Promise<void> {
  const writes = opened.flatMap((o) => (o.writing ? [o.writing] : []));
  if (writes.length === 0) return;
  for (const result of await Promise.allSettled(writes)) {
    if (result.status === 'rejected') throw result.reason;
  }
}

function removeTemps(opened: OpenItem[]): void {
  for (const o of opened) {
    const fd = o.fd;
    o.fd = -1;
    try {
      if (fd >= 0) closeSync(fd);
    } catch {
      // a descriptor already closed: the temporary file still goes
    }
    try {
      unlinkSync(o.temp);
    } catch {
      // already linked and removed, or never created
    }
  }
}

function fsyncPath(file: string, key: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (err) {
      reject(fsError(err, 'put', key, file));
      return;
    }
    fsync(fd, (err) => {
      closeSync(fd);
      if (err) reject(fsError(err, 'put', key, file));
      else resolve();
    });
  });
}

function writeAll(fd: number, parts: Uint8Array[], key: string, temp: string): void {
  try {
    const total = parts.reduce((n, p) => n + p.length, 0);
    let done = writevSync(fd, parts);
    // A short gathering write (rare: signals, full disks) finishes part by part.
    let offset = 0;
    for (const part of parts) {
      const end = offset + part.length;
      while (done < end) done += writeSync(fd, part, done - offset, end - done);
      offset = end;
    }
    if (done !== total) throw new Error(`wrote ${done} of ${total} bytes`);
  } catch (err) {
    throw fsError(err, 'put', key, temp);
  }
}

function fsyncFd(fd: number, key: string, temp: string): Promise<void> {
  return new Promise((resolve, reject) =>
    fsync(fd, (err) => (err ? reject(fsError(err, 'put', key, temp)) : resolve())),
  );
}

/** fsyncs a directory (best effort, as in LocalBackend). */
function syncDir(dir: string): Promise<void> {
  return new Promise((resolve) => {
    let fd: number;
    try {
      fd = openSync(dir, 'r');
    } catch {
      resolve();
      return;
    }
    fsync(fd, () => {
      closeSync(fd);
      resolve();
    });
  });
}
