/**
 * The backup walk: one directory at a time, children in name order, each child turned
 * into an entry (recursing into subdirectories), entries fed to a DirectoryWriter.
 *
 * Children of a directory are processed concurrently but added in order. Reading file
 * content is capped by a semaphore so memory stays bounded whatever the tree's shape.
 */
import type { BigIntStats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkStream } from '../chunker/index.js';
import { throwIfAborted } from '../core/abort.js';
import { describeError, hasCode } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { mapConcurrent, Semaphore } from '../core/limit.js';
import { sortNames } from '../manifest/names.js';
import { decodeEntry, encodeEntry } from '../manifest/tree-codec.js';
import type { ChunkRef, DirEntry, Entry, FileEntry } from '../manifest/types.js';
import type { BlobStore } from '../repo/blob-store.js';
import type { Repository } from '../repo/repository.js';
import type { CachedChild, StatCache } from '../repo/stat-cache.js';
import { DirectoryWriter } from '../repo/tree-store.js';
import { type BackupEvent, Throttle } from './events.js';
import type { ExcludeMatcher } from './exclude.js';
import { baseFields, fingerprint, kindOf, tooRecentToCache } from './source-stat.js';

/** Everything the walk needs. */
export interface WalkerContext {
  repo: Repository;
  blobs: BlobStore;
  cache: StatCache | undefined;
  force: boolean;
  excludes: ExcludeMatcher;
  oneFileSystem: boolean;
  verbose: boolean;
  fileConcurrency: number;
  started: number;
  startedNs: bigint;
  signal: AbortSignal | undefined;
  emit: (event: BackupEvent) => void;
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

/** Children of one directory processed at once (stat calls, small files, subdirs). */
const CHILD_CONCURRENCY = 16;
/** Chunk uploads in flight per file. */
const PUTS_PER_FILE = 4;
/** Read size for streaming files into the chunker. */
const READ_CHUNK = 1024 * 1024;

/** Walks sources and builds entries; see the module comment. */
export class BackupWalker {
  readonly counts: WalkCounts & { errors: number } = {
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
  private totals: { files: number; bytes: number } | undefined;
  /** Hard-linked files seen in this backup, by `dev:ino`, so each is read once. */
  private readonly hardlinks = new Map<string, Promise<FileEntry | undefined>>();
  private rootDev: bigint | undefined;

  constructor(private readonly ctx: WalkerContext) {
    this.fileSlots = new Semaphore(ctx.fileConcurrency);
  }

  get excludes(): ExcludeMatcher {
    return this.ctx.excludes;
  }

  get oneFileSystem(): boolean {
    return this.ctx.oneFileSystem;
  }

  setTotals(files: number, bytes: number): void {
    this.totals = { files, bytes };
  }

  /** Emits a progress event (throttled unless `force`). */
  emitProgress(force = false): void {
    if (!force && !this.throttle.due()) return;
    this.ctx.emit({
      type: 'progress',
      operation: 'backup',
      files: this.counts.files,
      bytes: this.counts.bytes,
      ...(this.totals ? { totalFiles: this.totals.files, totalBytes: this.totals.bytes } : {}),
      bytesAdded: this.ctx.blobs.stats.bytesAdded,
      elapsedMs: Date.now() - this.ctx.started,
    });
  }

  private warn(path: string, err: unknown): void {
    this.counts.errors++;
    this.ctx.emit({
      type: 'warning',
      path,
      message: describeError(err),
      code: hasCode(err, 'format') ? 'format' : 'io',
    });
  }

  /** Backs up directory `path` (already lstat-ed) and returns its tree and totals. */
  async directory(
    path: string,
    st: BigIntStats,
  ): Promise<{ tree: ObjectId; files: number; bytes: number }> {
    throwIfAborted(this.ctx.signal);
    this.rootDev ??= st.dev;
    let names: string[];
    try {
      names = sortNames(await readdir(path));
    } catch (err) {
      this.warn(path, err);
      names = [];
    }
    names = names.filter((n) => !this.ctx.excludes.excludes(join(path, n), n));
    const cached = this.ctx.force ? undefined : await this.ctx.cache?.getDir(path);
    const fresh = new Map<string, CachedChild>();
    const writer = new DirectoryWriter(this.ctx.blobs, this.ctx.repo.config.paging);
    let files = 0;
    let bytes = 0;
    const results = mapConcurrent(names, CHILD_CONCURRENCY, (name) =>
      this.child(join(path, name), name, cached, fresh),
    );
    for await (const entry of results) {
      if (!entry) continue;
      await writer.add(entry);
      if (entry.kind === 'file') {
        files++;
        bytes += entry.size;
      } else if (entry.kind === 'dir') {
        files += entry.files;
        bytes += entry.bytes;
      }
    }
    const { tree } = await writer.finish();
    if (this.ctx.cache) await this.ctx.cache.putDir(path, fresh);
    return { tree, files, bytes };
  }

  /**
   * The entry for `path` named `name`, or undefined (with a warning) if it cannot be
   * read. `cached`/`fresh` are the parent's stat-cache records (old and being built).
   */
  async child(
    path: string,
    name: string,
    cached: Map<string, CachedChild> | undefined,
    fresh?: Map<string, CachedChild>,
  ): Promise<Entry | undefined> {
    throwIfAborted(this.ctx.signal);
    let st: BigIntStats;
    try {
      st = await lstat(path, { bigint: true });
    } catch (err) {
      this.warn(path, err);
      return undefined;
    }
    try {
      const kind = kindOf(st);
      if (kind === 'dir') return await this.dirEntry(path, name, st);
      if (kind === 'file') return await this.fileEntry(path, name, st, cached, fresh);
      if (kind === 'symlink') {
        return { ...baseFields(name, st), kind, target: await readlink(path) };
      }
      if (kind === 'chardev' || kind === 'blockdev') {
        return { ...baseFields(name, st), kind, rdev: Number(st.rdev) };
      }
      return { ...baseFields(name, st), kind };
    } catch (err) {
      if (hasCode(err, 'aborted')) throw err;
      // Repository write failures are fatal; source read failures are warnings.
      if (hasCode(err, 'backend') || hasCode(err, 'integrity')) throw err;
      this.warn(path, err);
      return undefined;
    }
  }

  private async dirEntry(path: string, name: string, st: BigIntStats): Promise<DirEntry> {
    if (this.ctx.oneFileSystem && this.rootDev !== undefined && st.dev !== this.rootDev) {
      // Record the mount point itself, empty, like other tools do.
      const { tree } = await new DirectoryWriter(
        this.ctx.blobs,
        this.ctx.repo.config.paging,
      ).finish();
      this.counts.dirs++;
      return { ...baseFields(name, st), kind: 'dir', tree, files: 0, bytes: 0 };
    }
    const sub = await this.directory(path, st);
    this.counts.dirs++;
    return {
      ...baseFields(name, st),
      kind: 'dir',
      tree: sub.tree,
      files: sub.files,
      bytes: sub.bytes,
    };
  }

  private async fileEntry(
    path: string,
    name: string,
    st: BigIntStats,
    cached: Map<string, CachedChild> | undefined,
    fresh: Map<string, CachedChild> | undefined,
  ): Promise<FileEntry | undefined> {
    const fp = fingerprint(st);
    const previous = cached?.get(name);
    let entry: FileEntry | undefined;
    let status: 'new' | 'changed' | 'unchanged' = previous ? 'changed' : 'new';
    if (previous && previous.fingerprint === fp) {
      entry = await this.reuse(previous.entry, path);
      if (entry) status = 'unchanged';
    }
    if (!entry) {
      if (st.nlink > 1n) entry = await this.hardlinked(path, name, st);
      else entry = await this.readFile(path, name, st);
    }
    if (!entry) return undefined;
    this.counts.files++;
    this.counts.bytes += entry.size;
    if (status === 'new') this.counts.filesNew++;
    else if (status === 'changed') this.counts.filesChanged++;
    else this.counts.filesUnchanged++;
    if (this.ctx.verbose) this.ctx.emit({ type: 'file', path, status, size: entry.size });
    fresh?.set(name, {
      fingerprint: tooRecentToCache(st, this.ctx.startedNs) ? '' : fp,
      entry: encodeEntry(entry),
    });
    this.emitProgress();
    return entry;
  }

  /** A cached entry, if every chunk it names is still in the repository. */
  private async reuse(bytes: Uint8Array, path: string): Promise<FileEntry | undefined> {
    let entry: Entry;
    try {
      entry = decodeEntry(bytes, `stat cache entry for ${path}`);
    } catch {
      return undefined;
    }
    if (entry.kind !== 'file') return undefined;
    for (const c of entry.chunks) {
      if (!(await this.ctx.blobs.has('data', c.id, { signal: this.ctx.signal }))) return undefined;
    }
    return entry;
  }

  private hardlinked(path: string, name: string, st: BigIntStats): Promise<FileEntry | undefined> {
    const key = `${st.dev}:${st.ino}`;
    let content = this.hardlinks.get(key);
    if (!content) {
      content = this.readFile(path, name, st);
      this.hardlinks.set(key, content);
    }
    return content.then((e) => (e ? { ...e, ...baseFields(name, st), hardlink: key } : undefined));
  }

  /** Reads a file: inline if small, else streamed through the chunker. */
  private async readFile(path: string, name: string, st: BigIntStats): Promise<FileEntry> {
    const base = baseFields(name, st);
    const inlineMax = this.ctx.repo.config.inlineMax;
    return this.fileSlots.run(async () => {
      if (st.size <= BigInt(inlineMax)) {
        const data = await readSmall(path, inlineMax + 1);
        this.counts.bytesRead += data.length;
        if (data.length <= inlineMax) {
          return data.length === 0
            ? { ...base, kind: 'file', size: 0, chunks: [] }
            : { ...base, kind: 'file', size: data.length, chunks: [], inline: data };
        }
        // It grew past the inline limit since lstat: chunk it like a large file.
      }
      const chunks = await this.storeChunks(path);
      const size = chunks.reduce((n, c) => n + c.size, 0);
      return { ...base, kind: 'file', size, chunks };
    });
  }

  private async storeChunks(path: string): Promise<ChunkRef[]> {
    const signal = this.ctx.signal;
    const stream = createReadStream(path, { highWaterMark: READ_CHUNK, signal });
    const counted = countBytes(stream, (n) => {
      this.counts.bytesRead += n;
    });
    const chunks: ChunkRef[] = [];
    const puts = mapConcurrent(
      chunkStream(counted, this.ctx.repo.config.chunker, signal),
      PUTS_PER_FILE,
      async (chunk) => {
        const { id } = await this.ctx.blobs.put('data', chunk.data, { signal });
        return { id, size: chunk.data.length };
      },
    );
    for await (const ref of puts) chunks.push(ref);
    return chunks;
  }
}

async function* countBytes(
  source: AsyncIterable<Buffer>,
  onBytes: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const buf of source) {
    onBytes(buf.length);
    yield buf;
  }
}

/** Reads at most `limit` bytes of a file. */
async function readSmall(path: string, limit: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(limit);
    let filled = 0;
    while (filled < limit) {
      const { bytesRead } = await fh.read(buf, filled, limit - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return Uint8Array.prototype.slice.call(buf, 0, filled);
  } finally {
    await fh.close();
  }
}
