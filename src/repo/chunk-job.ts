/**
 * One file through the data path: read, cut (FastCDC), hash, and seal the chunks the
 * repository does not have yet. The same code runs in a worker thread (chunk-worker.ts)
 * and, where workers are unavailable, on the calling thread (chunk-pool.ts).
 *
 * The file is processed in windows of a few MiB. For each window the job reports the
 * chunk ids and waits to be told which ones to seal, so data the repository already
 * holds is never compressed or encrypted (only hashed). While it waits it reads, cuts
 * and hashes the next window, so the thread stays busy; at most two windows of
 * plaintext are held at once.
 */
import { closeSync, readSync } from 'node:fs';
import type { GroupCommit } from '../backends/group-commit.js';
import type { DirectItem, LocalDirectWriter, PendingObject } from '../backends/local-direct.js';
import type { FastCDC } from '../chunker/fastcdc.js';
import { wordView } from '../chunker/scan.js';
import {
  dropKeptScanBuffers,
  giveBackScanBuffer,
  isAlignedScanBuffer,
  takeScanBuffer,
} from '../chunker/scan-wasm.js';
import type { ObjectId } from '../core/ids.js';
import { closeSparseTwin, openSourceSync, openSparseTwin } from '../core/source-open.js';
import { isAllZero } from '../core/zeros.js';
import type { ObjectCodec } from './codec.js';
import { blobKey } from './layout.js';

/**
 * Bytes of chunks per window (a window always ends at a chunk boundary): large enough
 * to amortise the round trip of asking which chunks are new.
 */
export const WINDOW_BYTES = 4 * 1024 * 1024;
/** Windows of a direct job, which asks nobody: small, to keep memory low. */
export const DIRECT_WINDOW_BYTES = 1024 * 1024;

/** A window's chunk ids, as reported to the caller. */
export interface WindowIds {
  window: number;
  ids: ObjectId[];
  sizes: number[];
  /** Bytes read from the file for this window. */
  bytesRead: number;
}

/** A sealed chunk of a window: its index in the window and its stored envelope. */
export interface SealedChunk {
  index: number;
  sealed: Uint8Array;
}

/** How the job talks to whoever decides and stores. */
export interface ChunkJobSink {
  /** A window was cut and hashed. */
  ids(window: WindowIds): void;
  /** Resolves which chunks of `window` to seal (one flag per chunk). */
  need(window: number): Promise<Uint8Array>;
  /**
   * A buffer of at least `bytes` for the sealed chunks of one window: they are views
   * into it, so they travel with its one ArrayBuffer (see chunk-serve.ts SlabRing).
   */
  slab(bytes: number): Uint8Array;
  /** The sealed chunks of `window` that were needed (possibly none), views into one slab. */
  sealed(window: number, chunks: SealedChunk[]): void;
  /** True once the caller no longer wants the result. */
  cancelled(): boolean;
}

interface Window {
  window: number;
  chunks: Uint8Array[];
}

/**
 * Chunks the file at `path` (a string, or a Buffer for names that are not UTF-8) and
 * reports through `sink`. Read errors are thrown with their errno code. Reads until the
 * end of the file, so a file that grows or shrinks meanwhile is stored as what was read.
 */
export async function runChunkJob(
  path: string | Buffer,
  cdc: FastCDC,
  codec: ObjectCodec,
  sink: ChunkJobSink,
): Promise<void> {
  const fd = openSourceSync(path);
  let reader: SpanReader | undefined;
  let twin: number | undefined;
  try {
    twin = openSparseTwin(fd);
    // Two buffers in turn: window k's chunks wait for the decision on them (and are
    // sealed) while window k+1 is read.
    reader = new SpanReader(fd, twin, cdc, WINDOW_BYTES, 2);
    let pending: Window | undefined;
    let windowNo = 0;
    for (;;) {
      if (sink.cancelled()) return;
      let next: Window | undefined;
      try {
        next = reader.done ? undefined : { window: windowNo, chunks: reader.next() };
      } catch (err) {
        // The caller may have promised the pending window's new chunks to other files
        // (BlobStore.claim): write them before reporting the read error.
        if (pending) await sealWindow(pending, codec, sink);
        throw err;
      }
      if (next && next.chunks.length > 0) {
        const ids = next.chunks.map((c) => codec.idOf(c));
        sink.ids({
          window: next.window,
          ids,
          sizes: next.chunks.map((c) => c.length),
          bytesRead: reader.takeBytesRead(),
        });
        windowNo++;
      }
      if (pending) {
        await sealWindow(pending, codec, sink);
        if (sink.cancelled()) return;
        pending = undefined;
      }
      if (!next || next.chunks.length === 0) {
        if (reader.done) return;
        continue;
      }
      pending = next;
    }
  } finally {
    reader?.release();
    closeSparseTwin(twin);
    closeSync(fd);
  }
}

/**
 * Waits for the decision on `w`, then seals the chunks asked for into one slab, each
 * copied in as it is sealed, and reports them. The slab is sized beforehand from the
 * codec's bound on a sealed chunk (compression is kept only when it makes a chunk
 * smaller), so no chunk's envelope outlives its own copy.
 */
async function sealWindow(w: Window, codec: ObjectCodec, sink: ChunkJobSink): Promise<void> {
  const need = await sink.need(w.window);
  if (sink.cancelled()) return;
  let bound = 0;
  for (let i = 0; i < w.chunks.length; i++)
    if (need[i]) bound += codec.storedSize(w.chunks[i]!.length);
  const out: SealedChunk[] = [];
  if (bound > 0) {
    const slab = sink.slab(bound);
    let at = 0;
    for (let i = 0; i < w.chunks.length; i++) {
      if (!need[i]) continue;
      const [header, body] = await codec.sealParts(w.chunks[i]!, 'content');
      const start = at;
      slab.set(header, at);
      at += header.length;
      slab.set(body, at);
      at += body.length;
      out.push({ index: i, sealed: slab.subarray(start, at) });
    }
  }
  sink.sealed(w.window, out);
}

/** A window written directly (see runDirectChunkJob): which chunks this job stored. */
export interface StoredWindow extends WindowIds {
  /** Chunks written by this job, with their stored sizes. */
  added: { index: number; storedBytes: number }[];
}

/** How a direct job reports. */
export interface DirectJobSink {
  stored(window: StoredWindow): void;
  cancelled(): boolean;
}

/** A direct job whose file has been read: `reported` settles once every window is reported. */
export interface ReadDirectJob {
  reported: Promise<void>;
}

/**
 * Like runChunkJob, for a local repository this thread writes itself: each window's
 * chunks that are not stored yet are sealed and written by `writer`, and the window is
 * reported once they are durable. Chunks are views into one reused buffer (no copy per
 * chunk, so the thread makes almost no garbage); a window is written out before the
 * buffer is refilled. `seen` remembers keys this thread wrote or found (bounded), so
 * repeated chunks cost no system call.
 *
 * With a group commit (`commits`), windows are handed to it as temporary files and the
 * job returns once the file is read, so the thread can start on the next file while
 * this one's objects are published; `reported` settles when they are. Without one, each
 * window is written durably (fsync per object) before the next is read.
 */
export async function runDirectChunkJob(
  path: string | Buffer,
  cdc: FastCDC,
  codec: ObjectCodec,
  writer: LocalDirectWriter,
  commits: GroupCommit | undefined,
  seen: Set<string>,
  sink: DirectJobSink,
): Promise<ReadDirectJob> {
  const fd = openSourceSync(path);
  let reported: Promise<void> = Promise.resolve();
  let reader: SpanReader | undefined;
  let twin: number | undefined;
  try {
    twin = openSparseTwin(fd);
    reader = new SpanReader(fd, twin, cdc, DIRECT_WINDOW_BYTES, 1);
    for (let windowNo = 0; ; windowNo++) {
      if (sink.cancelled()) break;
      const chunks = reader.next();
      if (chunks.length === 0 && reader.done) break;
      const ids = chunks.map((c) => codec.idOf(c));
      const items: DirectItem[] = [];
      const indexes: number[] = [];
      for (let i = 0; i < chunks.length; i++) {
        const key = blobKey('data', ids[i]!);
        if (seen.has(key)) continue;
        seen.add(key);
        if (writer.has(key)) continue;
        items.push({ key, parts: await codec.sealParts(chunks[i]!, 'content') });
        indexes.push(i);
      }
      const window: StoredWindow = {
        window: windowNo,
        ids,
        sizes: chunks.map((c) => c.length),
        bytesRead: reader.takeBytesRead(),
        added: [],
      };
      const sizes = items.map((item) => item.parts.reduce((n, part) => n + part.length, 0));
      const report = (written: boolean[]) => {
        written.forEach((ok, j) => {
          if (ok) window.added.push({ index: indexes[j]!, storedBytes: sizes[j]! });
        });
        sink.stored(window);
      };
      // Keys only: `items` views the read buffer, which must not outlive this window
      // while the batch holding it commits.
      const keys = items.map((item) => item.key);
      const forget = (err: unknown) => {
        for (const key of keys) seen.delete(key);
        throw err;
      };
      if (commits) {
        let pending: PendingObject[];
        // Uncached writes still under way (the device is behind) hold up the next ones.
        for (let wait = writer.uncachedRoom(); wait; wait = writer.uncachedRoom()) await wait;
        try {
          pending = writer.writeTemps(items, true);
        } catch (err) {
          forget(err);
        }
        // Even a window with nothing new waits for the hand-ins before it: a chunk it
        // skipped as seen may be in one of them.
        const published = commits.add(pending!, sum(sizes)).then(report, forget);
        published.catch(() => {}); // awaited through `reported`
        reported = reported.then(() => published);
        for (let wait = commits.room(); wait; wait = commits.room()) await wait;
      } else {
        let written: boolean[] = [];
        try {
          if (items.length > 0) written = await writer.putMany(items);
        } catch (err) {
          forget(err);
        }
        report(written);
      }
      if (seen.size > SEEN_LIMIT) seen.clear();
      // Let messages in (single objects to write, cancellations) between windows.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (err) {
    // Windows already handed in are published anyway (their chunks may be promised to
    // other files of this thread); report the error once they are.
    await reported.catch(() => {});
    throw err;
  } finally {
    reader?.release();
    closeSparseTwin(twin);
    closeSync(fd);
  }
  reported.catch(() => {}); // the caller awaits it
  return { reported };
}

function sum(values: number[]): number {
  let n = 0;
  for (const v of values) n += v;
  return n;
}

/**
 * Lets the read buffers kept on this thread go (a pool closing on the calling thread).
 * Readers take their buffers from the chunker's scan buffers (chunker/scan-wasm.ts: the
 * chunker cuts inside them without a copy) and give them back for the next file: a new
 * buffer costs page faults on first use (about 1 ms per MiB on this machine's VM).
 */
export function releaseSpareReadBuffer(): void {
  dropKeptScanBuffers();
}

/**
 * Reads a file and cuts it where it was read, into windows of whole chunks: `next`
 * returns the chunks of about `windowBytes` as views into its buffers, and no chunk is
 * copied on its own (per-chunk copies, some 2 GiB of allocations of 16-256 KiB in a
 * 2 GiB backup, left each thread's malloc arena larger than its live data). With one
 * buffer a window is valid until the following call; with two, used in turn, until the
 * call after that. `release` hands the buffers to the next reader of this thread. The
 * cut points are those of the streaming chunker: a cut is made only once `max` bytes
 * from the chunk start are available, or at the end of the file.
 */
class SpanReader {
  done = false;
  private readonly max: number;
  private readonly bufs: Uint8Array[];
  private readonly words: (Int32Array | null)[];
  /** The buffer holding the undecided bytes, buf[head .. tail). */
  private current = 0;
  private head = 0;
  private tail = 0;
  private eof = false;
  private bytesRead = 0;
  /** File offset of the next read. */
  private position = 0;
  /**
   * The uncached twin of a sparse file (openSparseTwin). While there is one, every read
   * is of whole aligned blocks into an aligned place, through the twin or through `fd`:
   * through the twin while reads end in holes (zeros cost the kernel nothing there),
   * through `fd` and its read-ahead and cache while they end in data (a file mostly of
   * data, already cached, was read 1.7x slower uncached). Dropped for good at the first read that is
   * not whole blocks (the end of the file) or that the twin fails.
   */
  private twin: number | undefined;
  /** The next read goes through the twin. */
  private uncached = true;
  /** False when `fd` reads at its own offset (it may be a pipe, which has none). */
  private readonly positioned: boolean;

  constructor(
    private readonly fd: number,
    twin: number | undefined,
    private readonly cdc: FastCDC,
    windowBytes: number,
    buffers: 1 | 2,
  ) {
    this.max = cdc.params.max;
    this.bufs = Array.from({ length: buffers }, () => takeScanBuffer(windowBytes + this.max));
    this.words = this.bufs.map(wordView);
    this.twin = this.bufs.every(isAlignedScanBuffer) ? twin : undefined;
    this.positioned = this.twin !== undefined;
  }

  /** Done with the buffers (no chunk view of them is used after this). */
  release(): void {
    for (const buf of this.bufs) giveBackScanBuffer(buf);
  }

  /** Bytes read since the last call. */
  takeBytesRead(): number {
    const n = this.bytesRead;
    this.bytesRead = 0;
    return n;
  }

  /** The next window's chunks (none once `done`). */
  next(): Uint8Array[] {
    const from = this.bufs[this.current]!;
    this.current = (this.current + 1) % this.bufs.length;
    const buf = this.bufs[this.current]!;
    // The undecided bytes (fewer than max) go to the front of the next buffer, which is
    // filled up behind them; with two, the previous window's chunks are left as they are.
    // Read uncached, they go just far enough in for the reads behind them to start on a
    // block boundary.
    const undecided = this.tail - this.head;
    const at = this.twin === undefined ? 0 : (ALIGN - (undecided % ALIGN)) % ALIGN;
    if (buf !== from) buf.set(from.subarray(this.head, this.tail), at);
    else if (this.head !== at) buf.copyWithin(at, this.head, this.tail);
    this.head = at;
    this.tail = at + undecided;
    while (!this.eof && this.tail < buf.length) {
      const n = this.read(buf);
      if (n < 0) break; // no whole block fits: cut what there is
      if (n === 0) this.eof = true;
      this.tail += n;
      this.bytesRead += n;
      this.position += n;
    }
    const chunks: Uint8Array[] = [];
    const words = this.words[this.current]!;
    while (this.head < this.tail && (this.eof || this.tail - this.head >= this.max)) {
      const n = this.cdc.cutWith(buf, words, this.head, this.tail);
      chunks.push(buf.subarray(this.head, this.head + n));
      this.head += n;
    }
    if (this.eof && this.head === this.tail) this.done = true;
    return chunks;
  }

  /** Reads into buf[tail..]: the byte count, or -1 when an aligned read has no room. */
  private read(buf: Uint8Array): number {
    if (this.twin === undefined) {
      const position = this.positioned ? this.position : null;
      return readSync(this.fd, buf, this.tail, buf.length - this.tail, position);
    }
    const room = buf.length - this.tail;
    const length = room - (room % ALIGN);
    if (length === 0) return -1;
    let n: number;
    try {
      n = readSync(this.uncached ? this.twin : this.fd, buf, this.tail, length, this.position);
    } catch (err) {
      if (!this.uncached) throw err; // the file's own error, as without a twin
      this.dropTwin(); // the twin is only a shortcut: read on through the cache
      return this.read(buf);
    }
    // A short read ends at the end of the file (or of one that grew meanwhile): what
    // follows is not block-aligned. Else the end of this read says where the next one
    // goes: after HOLE_SWITCH bytes of zeros, to the twin; after data, to the cache.
    const end = this.tail + n;
    if (n === 0 || n % ALIGN !== 0) this.dropTwin();
    else this.uncached = isAllZero(buf.subarray(end - Math.min(n, HOLE_SWITCH), end));
    return n;
  }

  private dropTwin(): void {
    this.twin = undefined;
    this.uncached = false;
  }
}

/** Block size of uncached reads: file offsets, lengths and buffer addresses. */
const ALIGN = 4096;
/** Zeros at the end of a read that send the next one through a sparse file's twin. */
const HOLE_SWITCH = 64 * 1024;

/** Keys a direct job remembers before starting over (about 10 MiB). */
const SEEN_LIMIT = 100_000;
