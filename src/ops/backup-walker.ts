/**
 * The backup walk: one directory at a time, children in name order, each child turned
 * into an encoded entry (recursing into subdirectories), entries fed to a
 * DirectoryWriter.
 *
 * Speed comes from doing cheap things synchronously and expensive things concurrently:
 * a directory's `readdir` and its children's `lstat` come as one scan (dir-scan.ts),
 * made ahead of the walk on the scan thread (dir-scanner.ts) when there is one; reads
 * of small (inline) files are synchronous calls, which on a warm cache cost a few
 * microseconds where a promise round trip through the thread pool costs tens; large
 * files are streamed through the chunker asynchronously, a few at a time (a
 * semaphore), with their chunk uploads in flight meanwhile. A child that
 * needs no waiting (a small file, a file the stat cache vouches for, a symlink) is
 * handled without any promise at all, and a small file's entry is encoded straight from
 * the read buffer: with 100,000 small files, per-file promises, copies and retained
 * objects were most of the cost.
 *
 * The stat cache keeps, per directory, each child's fingerprint and encoded entry and
 * the directory's tree id. A file whose fingerprint is unchanged is not read; a
 * directory whose every entry encodes exactly as recorded reuses its tree id without
 * encoding or hashing anything.
 */
import type { BigIntStats } from 'node:fs';
import { closeSync, constants, lstatSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { chunkStream, type StreamChunk } from '../chunker/stream.js';
import { abortable, throwIfAborted } from '../core/abort.js';
import { CAN_HOP, DIRECT_DIR_BYTES, DirRef } from '../core/deep-path.js';
import { errnoCause, errorCause } from '../core/errno.js';
import { CairnError, describeError, hasCode } from '../core/errors.js';
import {
  fsPath,
  isWellFormedName,
  nameByteLength,
  nameFromBytes,
  nameToBytes,
  readdirNamesSync,
} from '../core/fs-names.js';
import type { ObjectId } from '../core/ids.js';
import { mapConcurrent, Semaphore, settleAll } from '../core/limit.js';
import { openSourceSync } from '../core/source-open.js';
import { tryReadXattrs, type Xattr } from '../core/xattrs.js';
import { compareNames, sortNames } from '../manifest/names.js';
import { encodeEntryView } from '../manifest/tree-codec.js';
import type { ChunkRef, Entry, FileEntry } from '../manifest/types.js';
import { fitXattrs } from '../manifest/xattr-codec.js';
import type { BlobStore } from '../repo/blob-store.js';
import type { ChunkPool } from '../repo/chunk-pool.js';
import type { Repository } from '../repo/repository.js';
import type { CachedDir, StatCache } from '../repo/stat-cache.js';
import { DirectoryWriter } from '../repo/tree-store.js';
import {
  type DirScan,
  type ScanXattrs,
  scanDirectory,
  scannedIsDirectory,
  scannedStat,
} from './dir-scan.js';
import type { DirScanner } from './dir-scanner.js';
import { type BackupEvent, Throttle } from './events.js';
import type { ExcludeMatcher } from './exclude.js';
import type { TagExcluder } from './exclude-tags.js';
import type { PathSelection } from './path-selection.js';
import { keptEntries, type SourceFilters } from './source-filters.js';
import {
  baseFields,
  type FingerprintRules,
  fingerprint,
  kindOf,
  type SourceStat,
  timestampOf,
  tooRecentToCache,
  xattrSignature,
} from './source-stat.js';

/** Everything the walk needs. */
export interface WalkerContext {
  repo: Repository;
  blobs: BlobStore;
  /** Where large files are cut, hashed and sealed (worker threads). */
  pool: ChunkPool;
  /** Scans directories ahead of the walk on a worker thread; else the walk scans. */
  scanner: DirScanner | undefined;
  cache: StatCache | undefined;
  force: boolean;
  excludes: ExcludeMatcher;
  tags: TagExcluder;
  oneFileSystem: boolean;
  /** Record extended attributes. */
  xattrs: boolean;
  /** Whose extended attributes directory scans read (the rest are read when needed). */
  scanXattrs: ScanXattrs;
  /** What the stat cache's fingerprints leave out. */
  fingerprintRules: FingerprintRules;
  maxFileSize?: number | undefined;
  /** Only these paths and what leads to them (`--files-from`). */
  only?: PathSelection | undefined;
  verbose: boolean;
  fileConcurrency: number;
  started: number;
  startedNs: bigint;
  signal: AbortSignal | undefined;
  emit: (event: BackupEvent) => void;
}

/**
 * An entry's extended attributes as read for backup; `whole` is false when they could
 * not be read (its stat-cache signature then vouches for nothing).
 */
interface XattrsFound {
  list: readonly Xattr[] | undefined;
  whole: boolean;
}

/** Counters that end up in the snapshot summary. */
export interface WalkCounts {
  files: number;
  dirs: number;
  bytes: number;
  filesNew: number;
  filesChanged: number;
  filesUnchanged: number;
  errors: number;
  /** Bytes read from source files (0 for a backup where nothing changed). */
  bytesRead: number;
}

/**
 * What processing one child produced: its signature (see CachedDir) and either its
 * entry, or, for a file whose fingerprint matched the cache, the promise that its entry
 * is the one in the directory's previous tree (resolved only if the directory changed).
 */
export interface ChildResult {
  name: string;
  path: string;
  /** `path` as the file-system calls take it (exact bytes, reachable however deep). */
  at: string | Buffer;
  signature: string;
  entry: Entry | undefined;
  /** The entry already encoded (small files read in the walk; `entry` is then unset). */
  encoded?: Uint8Array | undefined;
  /**
   * `encoded` is a scratch view that the next small file's encoding overwrites: it must
   * go into its directory's page before then, or be copied (`keep`).
   */
  transient?: boolean;
  /**
   * True for files to take from the previous tree (`bytes` is their size). Their stat
   * is not kept: a directory holds one such result per file until it is done, and
   * thousands of retained stat objects made garbage collection a quarter of the work.
   */
  reuse: true | undefined;
  /**
   * A file read again only to key its link group afresh (`ignoreInode`): its directory
   * is written again even when every signature matches the cache.
   */
  rekeyed?: true;
  files: number;
  bytes: number;
  /** A subdirectory's: settles once its tree is stored (see DirResult). */
  stored?: Promise<void>;
}

/** Children of one directory in flight at once (subdirectories and large files). */
const CHILD_CONCURRENCY = 16;
/** Children of one directory done but waiting for an earlier one (bounds their memory). */
const CHILD_QUEUE = 64;
/**
 * Of those in flight, subdirectories at most. Each holds a page being filled and its
 * children's signatures; with 16 at once the first backup of 100,000 small files peaked
 * about 25 MiB higher, and no faster.
 */
const SUBDIRS_IN_FLIGHT = 4;
/** Chunks of a stream being stored at once (each at most the chunker's `max` bytes). */
const STREAM_PUTS = 8;

/** A child's result: at once when it was handled synchronously, else a promise. */
type Child = ChildResult | undefined | Promise<ChildResult | undefined>;

/** Walks sources and builds entries; see the module comment. */
export class BackupWalker {
  readonly counts: WalkCounts = {
    files: 0,
    dirs: 0,
    bytes: 0,
    filesNew: 0,
    filesChanged: 0,
    filesUnchanged: 0,
    errors: 0,
    bytesRead: 0,
  };
  private readonly fileSlots: Semaphore;
  private readonly throttle = new Throttle(200);
  /**
   * Bytes stored so far of large files still in progress (read, and their chunks
   * written or found present): progress counts them before their file is done, so a
   * large file moves the progress line as it is stored.
   */
  private bytesInFlight = 0;
  private totals: { files: number; bytes: number } | undefined;
  /** Hard-linked files seen in this backup, by `dev:ino`, so each is read once. */
  private readonly hardlinks = new Map<string, Promise<FileEntry | undefined>>();
  private rootDev: bigint | undefined;
  /** One buffer for synchronous small-file reads (the walk never reads two at once). */
  private readonly smallBuffer: Buffer;
  /** Stat cache records waiting for their trees to be stored (see `directory`). */
  private cacheWrites: { write: Promise<void>; settled: boolean }[] = [];

  /** The source roots of a multi-path backup (`watchRoots`). */
  private watchedRoots: ReadonlySet<string> = new Set();
  /** Why each watched root could not be read or listed: its warning's cause. */
  readonly rootFailures = new Map<string, unknown>();

  constructor(private readonly ctx: WalkerContext) {
    this.fileSlots = new Semaphore(ctx.fileConcurrency);
    this.smallBuffer = Buffer.allocUnsafe(ctx.repo.config.inlineMax + 1);
  }

  /** What the walk leaves out (the pre-scan of totals leaves out the same). */
  get filters(): SourceFilters {
    return this.ctx;
  }

  setTotals(files: number, bytes: number): void {
    this.totals = { files, bytes };
  }

  /**
   * Emits a progress event (throttled unless `force`). Its `bytes` are those of the
   * files done plus those stored so far of large files in progress.
   */
  emitProgress(force = false): void {
    if (!force && !this.throttle.due()) return;
    this.ctx.emit({
      type: 'progress',
      operation: 'backup',
      files: this.counts.files,
      bytes: this.counts.bytes + this.bytesInFlight,
      ...(this.totals ? { totalFiles: this.totals.files, totalBytes: this.totals.bytes } : {}),
      bytesAdded: this.ctx.blobs.stats.bytesAdded,
      elapsedMs: Date.now() - this.ctx.started,
    });
  }

  /**
   * The stat cache's key for directory `path`. A directory `--files-from` narrows (some
   * of its entries left out) is recorded under a key of its own: recorded under the
   * directory's, the next full backup would find the kept entries only, and read the
   * others again as new.
   */
  private dirKey(path: string): string {
    const narrowed = this.ctx.only !== undefined && !this.ctx.only.covers(path);
    return narrowed ? `\u0001${cacheKey(path)}` : cacheKey(path);
  }

  /**
   * The stat cache's record of directory `path`; for a narrowed one, the full record when
   * it has none of its own (reused whole only if its entries are the same, which the
   * check of every name ensures).
   */
  private async cachedDir(path: string) {
    const cache = this.ctx.cache;
    if (!cache) return undefined;
    const key = this.dirKey(path);
    const own = await cache.getDir(key);
    if (own || key === cacheKey(path)) return own;
    return cache.getDir(cacheKey(path));
  }

  /** Warns of a path `--files-from` lists that no directory listing held. */
  listedNotFound(path: string): void {
    this.counts.errors++;
    this.ctx.emit({
      type: 'warning',
      path,
      message: 'listed in --files-from, but not found (missing, or below a symbolic link)',
      code: 'not-found',
    });
  }

  private warn(path: string, err: unknown, code?: string): void {
    this.counts.errors++;
    // A root recorded without its attributes is still backed up: not a failed root.
    if (this.watchedRoots.has(path) && code !== 'xattrs') this.rootFailures.set(path, err);
    this.ctx.emit({
      type: 'warning',
      path,
      message: describeError(err, false),
      code: code ?? (hasCode(err, 'format') ? 'format' : 'io'),
    });
  }

  /**
   * Backs up directory `path` (already lstat-ed) and returns its tree and totals. `dir`
   * reaches it (a descriptor when its path is long); without it one is opened and
   * closed here. A directory that cannot be listed is recorded empty, with a warning,
   * unless it is the `sourceRoot`: then the error is thrown, since the snapshot would
   * hold nothing at all.
   */
  async directory(
    path: string,
    st: SourceStat,
    dir?: DirRef,
    sourceRoot = false,
  ): Promise<DirResult> {
    throwIfAborted(this.ctx.signal);
    this.rootDev ??= st.dev;
    let ref = dir;
    let listing: Listing;
    try {
      ref ??= DirRef.open(path);
      listing = await this.list(path, ref);
    } catch (err) {
      if (sourceRoot) {
        if (dir === undefined) ref?.close();
        throw err;
      }
      this.warn(path, err);
      // What --files-from lists below it was not looked for: not "not found" as well.
      this.ctx.only?.noteLeftOut(path);
      listing = { names: [], scan: undefined, slots: undefined };
    }
    const record = await this.cachedDir(path);
    // With `force` the record only says which files are new, changed or unchanged: the
    // files are read and the directory written out all the same.
    const cached = this.ctx.force ? undefined : record;
    const out = new DirectoryOutput(this, cached, listing.names.length);
    let result: DirResult;
    try {
      await this.children(path, listing, record, ref, out);
      // Reused files may be read in finish(): the directory stays open until then.
      result = await out.finish();
    } finally {
      // Files being read again reach them through the directory: not closed under them.
      await out.drain();
      if (dir === undefined) ref?.close();
    }
    const cache = this.ctx.cache;
    if (cache && !result.reused) {
      // Recorded only once the tree and everything under it is stored: a later backup
      // reuses a recorded tree whole, so it must never see a tree a crash left partial.
      const record = {
        tree: result.tree,
        files: result.files,
        bytes: result.bytes,
        children: out.signatures,
      };
      this.afterStored(result.stored.then(() => cache.putDir(this.dirKey(path), record)));
    }
    return result;
  }

  /**
   * Directory `ref`'s children, excluded ones left out: scanned (names and lstats, by
   * the scan thread when there is one) when the directory is reached by a plain path,
   * else only named (a deep directory's children are lstat-ed one by one).
   */
  private async list(path: string, ref: DirRef): Promise<Listing> {
    let scan: DirScan | undefined;
    if (typeof ref.at === 'string') {
      // Without a scan from the scan thread, scanned here (which reports a failure).
      scan =
        (await this.ctx.scanner?.take(ref.at)) ??
        scanDirectory(ref.at, this.ctx.tags, this.ctx.scanXattrs);
    }
    let names = scan ? scan.names : sortNames(readdirNamesSync(ref.at));
    // A scan decided on the tags when it listed the directory (and lstat-ed no more).
    const tagged = scan ? scan.tagged : this.ctx.tags.tagsIn(names, (name) => ref.child(name));
    const listed = names;
    // A regular file's size, for --exclude-larger-than: from the scan, else lstat-ed.
    const fileSize =
      this.ctx.maxFileSize === undefined
        ? undefined
        : (i: number): bigint | undefined => {
            const st = scan ? scannedStat(scan, i) : lstatOrUndefined(ref.child(listed[i]!));
            return st?.isFile() ? st.size : undefined;
          };
    const tooLarge = (name: string, size: bigint) => {
      if (!this.ctx.verbose) return;
      this.ctx.emit({
        type: 'notice',
        code: 'excluded-by-size',
        path: join(path, name),
        message: `${join(path, name)}: left out, ${size} bytes is more than --exclude-larger-than`,
      });
    };
    const slots = keptEntries(this.ctx, path, names, tagged, fileSize, tooLarge);
    if (slots) {
      const all = names;
      names = slots.map((i) => all[i]!);
    }
    if (tagged && this.ctx.verbose) {
      this.ctx.emit({
        type: 'notice',
        code: 'excluded-by-tag',
        path,
        message: `${path}: content left out, tagged by ${tagged.join(', ')}`,
      });
    }
    const listing = { names, scan, slots };
    if (scan) this.scanAhead(path, listing, scan);
    return listing;
  }

  /** Names the subdirectories to back up of a scanned directory to the scanner, in walk order. */
  private scanAhead(path: string, { names, slots }: Listing, scan: DirScan): void {
    const scanner = this.ctx.scanner;
    if (!scanner) return;
    const ahead: string[] = [];
    const prefix = path.endsWith('/') ? path : `${path}/`;
    for (let i = 0; i < names.length; i++) {
      const at = slots ? slots[i]! : i;
      if (!scannedIsDirectory(scan, at)) continue;
      if (this.ctx.oneFileSystem && scannedStat(scan, at)!.dev !== this.rootDev) continue;
      const name = names[i]!;
      const sub = prefix + name;
      // Only what `DirRef.sub` reaches by a plain path: the key `take` will be asked for.
      if (isWellFormedName(name) && nameByteLength(sub) <= DIRECT_DIR_BYTES) ahead.push(sub);
    }
    if (ahead.length > 0) scanner.prefetch(ahead);
  }

  /** Tracks a stat cache write that waits for its tree (awaited by `settle`). */
  private afterStored(write: Promise<void>): void {
    const item = { write, settled: false };
    const settle = () => {
      item.settled = true;
    };
    write.then(settle, settle);
    if (this.cacheWrites.length >= 256)
      this.cacheWrites = this.cacheWrites.filter((w) => !w.settled);
    this.cacheWrites.push(item);
  }

  /**
   * Waits for the stat cache writes still pending (each waits for its tree to be
   * stored); rejects with the first failure, after all have settled.
   */
  async settle(): Promise<void> {
    const writes = this.cacheWrites.map((w) => w.write);
    this.cacheWrites = [];
    await settleAll(writes);
  }

  /**
   * Feeds every child of directory `path` to `out` in name order. Most children (files
   * that match the cache, small files, symlinks) are handled synchronously and handed on
   * at once; subdirectories and large files run concurrently (at most CHILD_CONCURRENCY,
   * SUBDIRS_IN_FLIGHT of them subdirectories known from the scan), and children after
   * one still running wait in a bounded queue.
   */
  private async children(
    path: string,
    listing: Listing,
    record: CachedDir | undefined,
    ref: DirRef | undefined,
    out: DirectoryOutput,
  ): Promise<void> {
    const { names, scan, slots } = listing;
    const queue: Child[] = [];
    let inFlight = 0;
    let subdirsInFlight = 0;
    const subdirDone = () => {
      subdirsInFlight--;
    };
    const next = async (): Promise<void> => {
      let head = queue.shift();
      if (head instanceof Promise) {
        inFlight--;
        head = await head;
      }
      const added = out.add(head);
      if (added) await added;
    };
    try {
      const prefix = path.endsWith('/') ? path : `${path}/`;
      const absolute = path.startsWith('/');
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        const key = cacheKey(name);
        const scanned = scan ? scannedStat(scan, slots ? slots[i]! : i) : undefined;
        const subdir = scanned?.isDirectory() === true;
        while (subdir && subdirsInFlight >= SUBDIRS_IN_FLIGHT && queue.length > 0) await next();
        const child = this.childResult(
          // Names never hold '/', '.' or '..': plain concatenation is what join would give.
          absolute ? prefix + name : join(path, name),
          name,
          record?.children.get(key),
          ref,
          scanned,
        );
        if (child instanceof Promise) {
          child.catch(() => {}); // handled when its turn comes
          inFlight++;
          if (subdir) {
            subdirsInFlight++;
            child.then(subdirDone, subdirDone);
          }
        } else if (child && queue.length > 0) {
          // It waits behind an earlier child: its encoding must outlive the next one's.
          keep(child);
        }
        queue.push(child);
        while (
          queue.length > 0 &&
          (!(queue[0] instanceof Promise) ||
            inFlight >= CHILD_CONCURRENCY ||
            queue.length >= CHILD_QUEUE)
        ) {
          await next();
        }
      }
      while (queue.length > 0) await next();
    } finally {
      // Let work in flight settle so nothing keeps using the directory after it closes.
      await Promise.allSettled(queue.filter((c) => c instanceof Promise));
    }
  }

  /** A fresh writer for one directory node. */
  newWriter(): DirectoryWriter {
    return new DirectoryWriter(this.ctx.blobs, this.ctx.repo.config.paging);
  }

  /** True if tree node `id` is stored. */
  hasTree(id: ObjectId): Promise<boolean> {
    return this.ctx.blobs.has('tree', id, { signal: this.ctx.signal });
  }

  /** The entries of a previous tree, in name order (for merge-joining). */
  previousEntries(tree: ObjectId): AsyncIterator<Entry> {
    return this.ctx.repo.trees.entries(tree, this.ctx.signal)[Symbol.asyncIterator]();
  }

  /**
   * The entry of a file whose fingerprint matched: `previous` from the old tree if its
   * chunks are still stored, else the file is read again.
   */
  async resolveReused(r: ChildResult, previous: Entry | undefined): Promise<Entry | undefined> {
    if (
      previous?.kind === 'file' &&
      previous.size === r.bytes &&
      (await this.allChunksStored(previous))
    ) {
      this.countFile(r.path, previous, 'unchanged');
      return previous;
    }
    // Read it again, with a fresh stat. Should the file have changed since the first one,
    // the cache keeps the older signature, which only means one more read next time.
    let st: BigIntStats;
    try {
      st = lstatSync(r.at, { bigint: true });
      // Replaced by something else meanwhile (a FIFO would block the read).
      if (!st.isFile()) throw new Error(`${r.path} is no longer a regular file`);
    } catch (err) {
      this.warn(r.path, err);
      return undefined;
    }
    // Unchanged if its fingerprint is still the one the cache matched: it is read only
    // because its stored copy is gone.
    const { fp, xattrs } = this.fileFingerprint(r.path, r.at, st);
    const status = fp === r.signature ? 'unchanged' : 'changed';
    const attrs = xattrs ?? this.fileXattrs(r.path, r.at, st);
    // Attributes that could not be read: the cache must not vouch for this entry either
    // (its directory's record takes the cleared signature: see DirectoryOutput.write).
    if (!attrs.whole) r.signature = '';
    return this.readAndCount(r.path, r.at, r.name, st, status, attrs.list);
  }

  /** Counts a file taken unchanged inside an unchanged directory. */
  countUnchanged(r: ChildResult): void {
    this.counts.files++;
    this.counts.bytes += r.bytes;
    this.counts.filesUnchanged++;
    if (this.ctx.verbose)
      this.ctx.emit({ type: 'file', path: r.path, status: 'unchanged', size: r.bytes });
    this.emitProgress();
  }

  private countFile(path: string, entry: FileEntry, status: 'new' | 'changed' | 'unchanged'): void {
    this.counts.files++;
    this.counts.bytes += entry.size;
    if (status === 'new') this.counts.filesNew++;
    else if (status === 'changed') this.counts.filesChanged++;
    else this.counts.filesUnchanged++;
    if (this.ctx.verbose) this.ctx.emit({ type: 'file', path, status, size: entry.size });
    this.emitProgress();
  }

  /**
   * The entry of a file named `name` holding what `source` yields until its end
   * (standard input; `label` names it in errors). Cut on this thread as it arrives, each
   * chunk hashed here and sealed and written like any other (on the workers when the
   * repository is local), a few at a time, so memory stays bounded however long the
   * stream. A stream has no metadata of its own: the entry gets mode 0644, this
   * process's user and group, and the backup's start time. A read failure rejects: the
   * one file is the whole snapshot.
   */
  async stream(source: AsyncIterable<Uint8Array>, name: string, label: string): Promise<FileEntry> {
    const signal = this.ctx.signal;
    // Stops the reading when the caller aborts or a write fails: nothing else reaches a
    // read that waits for a stalled writer (a generator's `return` waits for it).
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let failure: unknown;
    const reading: Reading = { bytes: 0, done: false };
    const chunks: ChunkRef[] = [];
    const params = this.ctx.repo.config.chunker;
    const pieces = chunkStream(abortable(source, stop.signal), params, stop.signal);
    const store = async ({ data }: StreamChunk): Promise<ChunkRef> => {
      const size = data.length;
      this.counts.bytesRead += size;
      try {
        // The chunk is a fresh copy: the put may move it to a worker thread.
        const { id } = await this.ctx.blobs.put('data', data, {
          movable: true,
          ...(signal ? { signal } : {}),
        });
        reading.bytes += size;
        this.bytesInFlight += size;
        this.emitProgress();
        return { id, size };
      } catch (err) {
        failure ??= err;
        stop.abort();
        throw err;
      }
    };
    try {
      for await (const ref of mapConcurrent(pieces, STREAM_PUTS, store)) chunks.push(ref);
    } catch (err) {
      throwIfAborted(signal);
      const cause = failure ?? err;
      if (cause instanceof CairnError) throw cause;
      throw new CairnError('io', `cannot read ${label}: ${errorCause(cause)}`, { cause });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.doneReading(reading);
    }
    const entry: FileEntry = {
      name,
      mode: 0o644,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      mtime: timestampOf(this.ctx.startedNs),
      kind: 'file',
      size: chunks.reduce((n, c) => n + c.size, 0),
      chunks,
    };
    this.countFile(name, entry, 'new');
    return entry;
  }

  /** Records in `rootFailures` why any of `paths` cannot be read or listed. */
  watchRoots(paths: Iterable<string>): void {
    this.watchedRoots = new Set(paths);
  }

  /**
   * The entry for `path` named `name`, or undefined (with a warning) if it cannot be
   * read; `st` is its stat if already known. Used for the synthetic root of a
   * multi-path backup.
   */
  async child(
    path: string,
    name: string,
    st?: SourceStat,
  ): Promise<{ entry: Entry; stored: Promise<void> | undefined } | undefined> {
    const r = await this.childResult(path, name, undefined, undefined, st);
    return r?.entry ? { entry: r.entry, stored: r.stored } : undefined;
  }

  /**
   * Child `name` of directory `parent` (logical path `path`); no parent for a source root.
   * Returns synchronously unless the child needs asynchronous work (a subdirectory, a
   * large or hard-linked file): see `children`.
   */
  private childResult(
    path: string,
    name: string,
    cachedSignature: string | undefined,
    parent: DirRef | undefined,
    scanned?: SourceStat,
  ): Child {
    throwIfAborted(this.ctx.signal);
    const at = parent ? childAt(parent, name) : fsPath(path);
    let st: SourceStat;
    try {
      // A child the scan could not lstat is lstat-ed here, which says why.
      st = scanned ?? lstatSync(at, { bigint: true });
    } catch (err) {
      this.warn(path, err);
      return undefined;
    }
    try {
      const r = this.childOf(path, name, at, st, cachedSignature, parent);
      return r instanceof Promise ? r.catch((err) => this.childFailed(path, err)) : r;
    } catch (err) {
      return this.childFailed(path, err);
    }
  }

  /** A child that failed: repository failures are fatal, source failures warnings. */
  private childFailed(path: string, err: unknown): undefined {
    // Once stopped, what failed meanwhile is not the source's fault.
    throwIfAborted(this.ctx.signal);
    if (hasCode(err, 'aborted') || hasCode(err, 'backend') || hasCode(err, 'integrity')) {
      throw err;
    }
    this.warn(path, err);
    return undefined;
  }

  private childOf(
    path: string,
    name: string,
    at: string | Buffer,
    st: SourceStat,
    cachedSignature: string | undefined,
    parent: DirRef | undefined,
  ): Child {
    const kind = kindOf(st);
    if (kind === 'file') {
      const { fp, xattrs: read } = this.fileFingerprint(path, at, st);
      let signature = tooRecentToCache(st, this.ctx.startedNs) ? '' : fp;
      const matches = cachedSignature !== undefined && cachedSignature === fp;
      // Without inode numbers a hard-linked file is never taken from the cache: its entry
      // names its link group by device and inode, which may now belong to another group
      // (restore would link unrelated files), so it is read and keyed afresh, and its
      // directory written again (the same tree when the numbers did not change).
      const rekeyed = this.ctx.fingerprintRules.ignoreInode === true && st.nlink > 1n;
      if (matches && fp === signature && !this.ctx.force && !rekeyed) {
        const bytes = Number(st.size);
        return { name, path, at, signature, entry: undefined, reuse: true, files: 1, bytes };
      }
      const attrs = read ?? this.fileXattrs(path, at, st);
      const xattrs = attrs.list;
      // Attributes that could not be read are not vouched for: the file is read again.
      if (!attrs.whole) signature = '';
      // Read again under `force` though its fingerprint matches: counted unchanged.
      const status = cachedSignature === undefined ? 'new' : matches ? 'unchanged' : 'changed';
      // The common case, a small file with one link inside a directory: read and encoded
      // here, synchronously, straight from the read buffer.
      if (
        parent !== undefined &&
        typeof at === 'string' &&
        st.nlink === 1n &&
        st.size <= BigInt(this.ctx.repo.config.inlineMax)
      ) {
        const encoded = this.readInline(path, at, name, st, xattrs);
        if (encoded !== undefined) {
          this.counts.files++;
          this.counts.bytes += encoded.size;
          if (status === 'new') this.counts.filesNew++;
          else if (status === 'changed') this.counts.filesChanged++;
          else this.counts.filesUnchanged++;
          if (this.ctx.verbose) this.ctx.emit({ type: 'file', path, status, size: encoded.size });
          this.emitProgress();
          return {
            name,
            path,
            at,
            signature,
            entry: undefined,
            encoded: encoded.bytes,
            transient: true,
            reuse: undefined,
            files: 1,
            bytes: encoded.size,
          };
        }
        // It grew past the inline limit since lstat: read it the general way.
      }
      return this.readAndCount(path, at, name, st, status, xattrs).then((entry) =>
        entry
          ? {
              name,
              path,
              at,
              signature,
              entry,
              reuse: undefined,
              files: 1,
              bytes: entry.size,
              ...(rekeyed ? { rekeyed } : {}),
            }
          : undefined,
      );
    }
    const xattrs = this.ctx.xattrs ? this.xattrsOf(path, at, st).list : undefined;
    const base = baseFields(name, st, xattrs);
    const meta = `${base.mode}:${base.uid}:${base.gid}:${st.mtimeNs}${xattrSignature(xattrs)}`;
    const result = { name, path, at, reuse: undefined, files: 0, bytes: 0 };
    if (kind === 'dir') {
      return this.subdirectory(path, st, () =>
        parent ? parent.sub(name) : DirRef.open(path),
      ).then((sub): ChildResult => {
        const entry: Entry = { ...base, kind, tree: sub.tree, files: sub.files, bytes: sub.bytes };
        const signature = `d:${meta}:${sub.tree}:${sub.files}:${sub.bytes}`;
        return {
          ...result,
          signature,
          entry,
          files: sub.files,
          bytes: sub.bytes,
          stored: sub.stored,
        };
      });
    }
    if (kind === 'symlink') {
      const target = nameFromBytes(readlinkSync(at, { encoding: 'buffer' }));
      return {
        ...result,
        signature: `l:${meta}:${cacheKey(target)}`,
        entry: { ...base, kind, target },
      };
    }
    if (kind === 'chardev' || kind === 'blockdev') {
      const rdev = Number(st.rdev);
      return { ...result, signature: `${kind}:${meta}:${rdev}`, entry: { ...base, kind, rdev } };
    }
    return { ...result, signature: `${kind}:${meta}`, entry: { ...base, kind } };
  }

  /**
   * The stat-cache fingerprint of file `at`, and its extended attributes where they had
   * to be read for it. Their changes change ctime, which the fingerprint holds, so they
   * are read only for the files that are read (`fileXattrs`); `:x` marks fingerprints
   * of backups that record them, so a file cached by one that did not (or by a cairn
   * that could not) is read again. Without ctime (`--ignore-ctime`) a digest of the
   * attributes stands in, and every file's are read.
   */
  private fileFingerprint(
    path: string,
    at: string | Buffer,
    st: SourceStat,
  ): { fp: string; xattrs?: XattrsFound } {
    const fp = fingerprint(st, this.ctx.fingerprintRules);
    if (!this.ctx.xattrs) return { fp };
    if (!this.ctx.fingerprintRules.ignoreCtime) return { fp: `${fp}:x` };
    const xattrs = this.xattrsOf(path, at, st);
    return { fp: fp + xattrSignature(xattrs.list), xattrs };
  }

  /** A file's extended attributes for its new entry, when the backup records them. */
  private fileXattrs(path: string, at: string | Buffer, st: SourceStat): XattrsFound {
    return this.ctx.xattrs ? this.xattrsOf(path, at, st) : { list: undefined, whole: true };
  }

  /**
   * The extended attributes of child `at`: those its directory's scan read, else read
   * now. A warning (code `xattrs`) for each that a tree cannot hold, left out, and for a
   * failed read: the entry is then kept without them, and `whole` is false.
   */
  private xattrsOf(path: string, at: string | Buffer, st: SourceStat): XattrsFound {
    const found = st.xattrs ?? tryReadXattrs(at);
    if ('code' in found) {
      const cause = /^E[A-Z0-9]+$/.test(found.code) ? errnoCause(found.code) : found.message;
      this.warn(path, new Error(`extended attributes not recorded: ${cause}`), 'xattrs');
      return { list: undefined, whole: false };
    }
    if (found.length === 0) return { list: undefined, whole: true };
    const { kept, left } = fitXattrs(found);
    if (left.length > 0) {
      const message = `extended attributes not recorded: ${left.join('; ')}`;
      this.warn(path, new Error(message), 'xattrs');
    }
    return { list: kept.length > 0 ? kept : undefined, whole: true };
  }

  /**
   * Reads small file `at` and encodes its entry, without copying the content out of the
   * read buffer first; undefined if it has grown past the inline limit.
   */
  private readInline(
    path: string,
    at: string,
    name: string,
    st: SourceStat,
    xattrs: readonly Xattr[] | undefined,
  ): { bytes: Uint8Array; size: number } | undefined {
    const inlineMax = this.ctx.repo.config.inlineMax;
    const fd = openSourceSync(at, 0, st.uid);
    let n: number;
    try {
      n = readSync(fd, this.smallBuffer, 0, inlineMax + 1, 0);
    } finally {
      closeSync(fd);
    }
    this.counts.bytesRead += n;
    if (n > inlineMax) return undefined;
    // Checked without another system call: a size that moved (the times are not seen).
    if (n !== Number(st.size)) this.noteChanged(path, st, n);
    const base = baseFields(name, st, xattrs);
    const entry: FileEntry =
      n === 0
        ? { ...base, kind: 'file', size: 0, chunks: [] }
        : { ...base, kind: 'file', size: n, chunks: [], inline: this.smallBuffer.subarray(0, n) };
    return { bytes: encodeEntryView(entry), size: n };
  }

  private async subdirectory(path: string, st: SourceStat, open: () => DirRef): Promise<DirResult> {
    this.counts.dirs++;
    if (this.ctx.oneFileSystem && this.rootDev !== undefined && st.dev !== this.rootDev) {
      // Record the mount point itself, empty, as other tools do.
      this.ctx.only?.noteLeftOut(path);
      const { tree, stored } = await this.newWriter().finishDeferred();
      return { tree, files: 0, bytes: 0, reused: false, stored };
    }
    const dir = open();
    try {
      return await this.directory(path, st, dir);
    } finally {
      dir.close();
    }
  }

  /** Reads a file's content (a warning and undefined if it cannot) and counts it. */
  private async readAndCount(
    path: string,
    at: string | Buffer,
    name: string,
    st: SourceStat,
    status: 'new' | 'changed' | 'unchanged',
    xattrs: readonly Xattr[] | undefined,
  ): Promise<FileEntry | undefined> {
    let entry: FileEntry | undefined;
    const reading: Reading = { bytes: 0, done: false };
    try {
      entry = await withStringPath(at, (p) =>
        st.nlink > 1n
          ? this.hardlinked(p, name, st, reading, xattrs)
          : this.readFile(p, name, st, reading, xattrs),
      );
    } catch (err) {
      this.doneReading(reading);
      throwIfAborted(this.ctx.signal);
      if (
        hasCode(err, 'aborted') ||
        hasCode(err, 'backend') ||
        hasCode(err, 'integrity') ||
        hasCode(err, 'usage')
      )
        throw err;
      this.warn(path, err);
      return undefined;
    }
    // The bytes stored so far give way to the file's size in one step.
    this.doneReading(reading);
    if (entry) {
      this.noteIfChanged(path, at, st, entry.size);
      this.countFile(path, entry, status);
    }
    return entry;
  }

  /**
   * A notice when file `path` changed while it was read: `read` bytes where lstat said
   * otherwise, or its size or times differ now. Its stored bytes may then mix two
   * versions; the snapshot keeps them (what a copy made at that moment would hold) and
   * the next backup reads the file again, its times having changed. Not a warning:
   * nothing is missing (growing logs would make every backup "fail"). A file replaced
   * or removed meanwhile was read whole, as it was: nothing to say.
   */
  private noteIfChanged(path: string, at: string | Buffer, st: SourceStat, read: number): void {
    let now: BigIntStats;
    try {
      now = lstatSync(at, { bigint: true });
    } catch {
      return;
    }
    if (now.ino !== st.ino || now.dev !== st.dev) return;
    if (
      read === Number(st.size) &&
      now.size === st.size &&
      now.mtimeNs === st.mtimeNs &&
      now.ctimeNs === st.ctimeNs
    )
      return;
    this.noteChanged(path, st, read);
  }

  private noteChanged(path: string, st: SourceStat, read: number): void {
    this.ctx.emit({
      type: 'notice',
      code: 'file-changed',
      path,
      message:
        read === Number(st.size)
          ? `${path} changed while it was read (written to: its times moved; ${read} bytes read): the snapshot holds what was read`
          : `${path} changed while it was read (${st.size} bytes at the start, ${read} read): the snapshot holds what was read`,
    });
  }

  /** Stops counting `reading` as in flight (later reports of its bytes are ignored). */
  private doneReading(reading: Reading): void {
    if (reading.done) return;
    reading.done = true;
    this.bytesInFlight -= reading.bytes;
  }

  /** True if every chunk a previous file entry names is still in the repository. */
  private async allChunksStored(entry: FileEntry): Promise<boolean> {
    for (const c of entry.chunks) {
      if (!(await this.ctx.blobs.has('data', c.id, { signal: this.ctx.signal }))) return false;
    }
    return true;
  }

  private hardlinked(
    path: string,
    name: string,
    st: SourceStat,
    reading: Reading,
    xattrs: readonly Xattr[] | undefined,
  ): Promise<FileEntry | undefined> {
    const key = `${st.dev}:${st.ino}`;
    let content = this.hardlinks.get(key);
    if (!content) {
      content = this.readFile(path, name, st, reading, xattrs);
      this.hardlinks.set(key, content);
    }
    return content.then((e) => {
      if (!e) return undefined;
      // This link's own reading of the shared inode's metadata, attributes included.
      const { xattrs: _first, ...content } = e;
      return { ...content, ...baseFields(name, st, xattrs), hardlink: key };
    });
  }

  /**
   * Reads a file: inline if small (synchronously), else streamed through the chunker,
   * its bytes counted in `reading` (and in flight) as they are stored.
   */
  private async readFile(
    path: string,
    name: string,
    st: SourceStat,
    reading: Reading,
    xattrs: readonly Xattr[] | undefined,
  ): Promise<FileEntry> {
    const base = baseFields(name, st, xattrs);
    const inlineMax = this.ctx.repo.config.inlineMax;
    if (st.size <= BigInt(inlineMax)) {
      const data = this.readSmall(path, inlineMax + 1);
      this.counts.bytesRead += data.length;
      if (data.length === 0) return { ...base, kind: 'file', size: 0, chunks: [] };
      if (data.length <= inlineMax)
        return { ...base, kind: 'file', size: data.length, chunks: [], inline: data };
      // It grew past the inline limit since lstat: chunk it like a large file.
    }
    return this.fileSlots.run(async () => {
      const chunks = await this.storeChunks(path, Number(st.size), reading);
      const size = chunks.reduce((n, c) => n + c.size, 0);
      return { ...base, kind: 'file', size, chunks };
    });
  }

  /** Reads at most `limit` bytes of a file synchronously (a copy the caller keeps). */
  private readSmall(path: string, limit: number): Uint8Array {
    const fd = openSourceSync(path);
    try {
      // One read: a regular file returns fewer bytes than asked only at its end.
      const n = readSync(fd, this.smallBuffer, 0, limit, 0);
      return Uint8Array.prototype.slice.call(this.smallBuffer, 0, n);
    } finally {
      closeSync(fd);
    }
  }

  /** Reads, cuts, hashes and stores a large file on the chunk pool's worker threads. */
  private storeChunks(path: string, size: number, reading: Reading): Promise<ChunkRef[]> {
    const signal = this.ctx.signal;
    return this.ctx.pool.storeFile(path, this.ctx.blobs, {
      size,
      ...(signal ? { signal } : {}),
      onBytes: (n) => {
        this.counts.bytesRead += n;
      },
      // Progress counts a piece once it is stored: reads run a few windows ahead.
      onBytesStored: (n) => {
        if (reading.done) return;
        reading.bytes += n;
        this.bytesInFlight += n;
        this.emitProgress();
      },
    });
  }
}

/** The lstat of `at`, or undefined when it cannot be taken (the walk reports why later). */
function lstatOrUndefined(at: string | Buffer): BigIntStats | undefined {
  try {
    return lstatSync(at, { bigint: true });
  } catch {
    return undefined;
  }
}

/**
 * The bytes stored so far of one large file, counted in the progress until the file
 * is done (`done`), when its size is counted instead.
 */
interface Reading {
  bytes: number;
  done: boolean;
}

/** Makes `r.encoded` its own copy if it is a scratch view (see ChildResult.transient). */
function keep(r: ChildResult): ChildResult {
  if (r.transient) {
    r.encoded = Uint8Array.prototype.slice.call(r.encoded!);
    r.transient = false;
  }
  return r;
}

/**
 * Runs `fn` with a string path to the file at `at`. File reading takes string paths; a
 * name that is not UTF-8 (a Buffer path) is opened here and reached as
 * `/proc/self/fd/<fd>`, which the reader opens afresh (its own offset), until `fn` settles.
 */
async function withStringPath<T>(
  at: string | Buffer,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  if (typeof at === 'string') return fn(at);
  if (!CAN_HOP) throw new Error('file names that are not UTF-8 are read on Linux only');
  // NONBLOCK: should a FIFO have replaced the file since lstat, opening must not hang.
  const fd = openSourceSync(at, constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    return await fn(`/proc/self/fd/${fd}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * A name or path as a stat-cache key. The cache stores strings as UTF-8, which would
 * merge names that differ only in bytes that are not UTF-8; those are keyed as NUL (which
 * no name or path holds) followed by their bytes in hex instead.
 */
function cacheKey(name: string): string {
  return isWellFormedName(name) ? name : `\0${nameToBytes(name).toString('hex')}`;
}

/**
 * What `fs` takes for child `name` of `parent`: `DirRef.child`, without its path join
 * when the directory is reached by a string and the name is UTF-8 (the common case).
 */
function childAt(parent: DirRef, name: string): string | Buffer {
  const at = parent.at;
  if (typeof at !== 'string' || !isWellFormedName(name)) return parent.child(name);
  return at.endsWith('/') ? at + name : `${at}/${name}`;
}

/**
 * A directory's children to back up, in name order: `slots[i]` is the index in `scan`
 * of `names[i]` when exclusions left some out (without a scan, children are lstat-ed
 * one by one).
 */
interface Listing {
  names: string[];
  scan: DirScan | undefined;
  slots: number[] | undefined;
}

/** A directory's tree id and totals; `reused` when its previous tree was kept. */
export interface DirResult {
  tree: ObjectId;
  files: number;
  bytes: number;
  reused: boolean;
  /**
   * Settles once this directory's tree and every tree under it are stored (tree nodes
   * are written in batches, after their ids are known); rejects if one failed.
   */
  stored: Promise<void>;
}

/**
 * Collects one directory's children in name order. While every child matches the stat
 * cache, only small descriptors are kept; at the first difference, everything so far
 * and everything after streams into a DirectoryWriter, files taken from the previous
 * tree by a merge-join on name (both are in name order), so memory stays bounded by a
 * page, not by the directory.
 */
export class DirectoryOutput {
  readonly signatures = new Map<string, string>();
  private pending: ChildResult[] = [];
  private changed: boolean;
  private writer: DirectoryWriter | undefined;
  private previous: AsyncIterator<Entry> | undefined;
  private previousHead: Entry | undefined;
  private previousDone = false;
  private files = 0;
  private bytes = 0;
  /** Subdirectories' `stored` (see DirResult), for when this directory is reused. */
  private readonly childStored: Promise<void>[] = [];
  /** Settles once everything queued (see `write`) is in the writer. */
  private tail: Promise<void> = Promise.resolve();
  /** The last lookup in the previous tree (see `write`). */
  private lookups: Promise<unknown> = Promise.resolve();
  /** Files from the previous tree queued and not yet resolved. */
  private queued = 0;
  /** Steps queued behind `tail` and not finished. */
  private steps = 0;
  /** A queued step failed. */
  private failed = false;

  constructor(
    private readonly walker: BackupWalker,
    private readonly cached: CachedDir | undefined,
    childCount: number,
  ) {
    this.changed = !cached || cached.tree === '' || cached.children.size !== childCount;
  }

  /** Takes the next child; returns a promise only when there is something to wait for. */
  add(r: ChildResult | undefined): Promise<void> | undefined {
    if (!r) {
      // A child vanished or could not be read: the directory is not what was cached.
      return this.markChanged();
    }
    const key = cacheKey(r.name);
    this.signatures.set(key, r.signature);
    if (r.stored) this.childStored.push(r.stored);
    this.files += r.files;
    this.bytes += r.bytes;
    const differs =
      !this.changed &&
      (r.signature === '' || r.rekeyed || this.cached!.children.get(key) !== r.signature);
    if (differs) {
      keep(r);
      return this.markChanged().then(() => this.write(r));
    }
    if (this.changed) return this.write(r);
    this.pending.push(keep(r));
    return undefined;
  }

  private async markChanged(): Promise<void> {
    if (this.changed) return;
    this.changed = true;
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) {
      const written = this.write(p);
      if (written) await written;
    }
  }

  /**
   * Puts `r` into the writer, in name order. A file taken from the previous tree may
   * have to be read again (its chunks are gone: a prune removed them), which waits for
   * its chunks to be stored: up to REUSED_AHEAD such files are resolved at once, their
   * entries queued behind `tail`, so a directory of them is not read one file, and one
   * commit, at a time. Returns a promise when the caller should wait.
   */
  private write(r: ChildResult): Promise<void> | undefined {
    // A queued step failed: the directory cannot be written; the walk stops here.
    if (this.failed) return this.tail;
    this.writer ??= this.walker.newWriter();
    const writer = this.writer;
    if (r.reuse) {
      // The merge-join with the previous tree reads it in order: one lookup at a time.
      const previous = this.lookups.then(() => this.previousEntry(r.name));
      this.lookups = previous;
      const entry = previous.then((p) => this.walker.resolveReused(r, p));
      entry.catch(() => {}); // reported through `tail`
      this.queued++;
      return this.enqueue(async () => {
        const e = await entry;
        this.queued--;
        if (r.signature === '') this.signatures.set(cacheKey(r.name), '');
        if (e) await writer.add(e);
      });
    }
    // A subdirectory's entry: its page is written once the subtree is stored. (The
    // writer copies the bytes in at once: scratch views are fine here, unless queued.)
    // Behind any step not yet finished, or it would overtake the entries queued.
    if (this.steps > 0) {
      keep(r);
      return this.enqueue(() =>
        writer.push(r.name, r.encoded ?? encodeEntryView(r.entry!), r.stored),
      );
    }
    return writer.push(r.name, r.encoded ?? encodeEntryView(r.entry!), r.stored);
  }

  /**
   * Runs `step` after everything queued; the queue to wait for when it is full or has
   * failed (so a failure stops the directory's walk at once, not at its end).
   */
  private enqueue(step: () => Promise<void> | undefined): Promise<void> | undefined {
    this.steps++;
    this.tail = this.tail.then(async () => {
      try {
        await step();
      } finally {
        this.steps--;
      }
    });
    this.tail.catch(() => {
      this.failed = true;
    });
    return this.queued >= REUSED_AHEAD || this.failed ? this.tail : undefined;
  }

  /** Settles once nothing queued is running any more (failures are `finish`'s to report). */
  async drain(): Promise<void> {
    await this.tail.catch(() => {});
  }

  /** The previous tree's entry called `name`, advancing the merge-join. */
  private async previousEntry(name: string): Promise<Entry | undefined> {
    if (!this.cached || this.cached.tree === '' || this.previousDone) return undefined;
    try {
      this.previous ??= this.walker.previousEntries(this.cached.tree);
      for (;;) {
        if (this.previousHead === undefined) {
          const next = await this.previous.next();
          if (next.done) {
            this.previousDone = true;
            return undefined;
          }
          this.previousHead = next.value;
        }
        const order = compareNames(this.previousHead.name, name);
        if (order === 0) return this.previousHead;
        if (order > 0) return undefined;
        this.previousHead = undefined;
      }
    } catch (err) {
      if (hasCode(err, 'aborted') || hasCode(err, 'backend')) throw err;
      // An unreadable previous tree only means the files are read again.
      this.previousDone = true;
      return undefined;
    }
  }

  async finish(): Promise<DirResult> {
    if (!this.changed && this.cached && (await this.walker.hasTree(this.cached.tree))) {
      for (const r of this.pending) if (r.reuse) this.walker.countUnchanged(r);
      const stored = allSettledOk(this.childStored);
      return { tree: this.cached.tree, files: this.files, bytes: this.bytes, reused: true, stored };
    }
    // Changed, or unchanged but its cached tree is gone: write the directory out.
    await this.markChanged();
    await this.tail;
    // Its nodes wait for the subtrees they name, so `stored` covers those too.
    const { tree, stored } = await (this.writer ?? this.walker.newWriter()).finishDeferred();
    return { tree, files: this.files, bytes: this.bytes, reused: false, stored };
  }
}

/**
 * Files taken from the previous tree resolved at once in one directory (see
 * DirectoryOutput.write): enough to fill the group commit's batches.
 */
const REUSED_AHEAD = 32;

/** Resolves when all of `promises` have, rejects with a failure (never unhandled). */
function allSettledOk(promises: Promise<void>[]): Promise<void> {
  const all = Promise.all(promises).then(() => {});
  all.catch(() => {}); // awaited by whoever needs the trees stored
  return all;
}
