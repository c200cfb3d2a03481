/**
 * The serving side of the chunk pool protocol (chunk-protocol.ts): receives tasks,
 * runs their chunk jobs one at a time, and answers through `post`. A worker thread
 * wires it to its parent port (chunk-worker.ts); the pool's inline mode calls it
 * directly on the calling thread.
 */

import { performance } from 'node:perf_hooks';
import { GroupCommit } from '../backends/group-commit.js';
import { LocalDirectWriter, type PendingObject } from '../backends/local-direct.js';
import { FastCDC } from '../chunker/fastcdc.js';
import { SpareBuffers } from '../core/spare-buffers.js';
import { runChunkJob, runDirectChunkJob, WINDOW_BYTES } from './chunk-job.js';
import type { ChunkWorkerSetup, FromWorker, ToWorker } from './chunk-protocol.js';
import { toWireError } from './chunk-protocol.js';
import { plaintextKindOf } from './codec.js';
import { codecFromSetup } from './codec-setup.js';

/** Sends a message (with buffers to transfer) to the pool. */
export type PostToPool = (message: FromWorker, transfer: ArrayBuffer[]) => void;

/**
 * A single object (a tree page) put into the group commit is committed at once, and
 * waits for two `syncfs` calls: about 10-20 ms on a quiet file system, and about 1 s
 * less system time than an fsync per page and per folder in the first backup of
 * 100,000 small files (docs/performance.md). But a `syncfs` also waits for whatever
 * other processes wrote to the file system, so while a neighbour writes gigabytes a
 * page could wait seconds, where its own fsync waits for its own bytes only. A commit
 * slower than this (milliseconds, from hand-in to durable name; it includes waiting for
 * a chunk batch already committing, so a slow disk counts too) sends the thread's
 * single objects to their own fsyncs for GROUP_COMMIT_RETRY_MS, then they try again.
 */
export const SLOW_PAGE_COMMIT_MS = 250;

/** How long single objects keep their own fsyncs after a slow commit (milliseconds). */
export const GROUP_COMMIT_RETRY_MS = 10_000;

/** Options of `serveChunkJobs` (tests). */
export interface ServeOptions {
  /** See SLOW_PAGE_COMMIT_MS (the default). */
  slowPageCommitMs?: number;
  /** See GROUP_COMMIT_RETRY_MS (the default). */
  groupCommitRetryMs?: number;
}

/** Starts serving chunk jobs for `setup`; returns the handler for incoming messages. */
export function serveChunkJobs(
  setup: ChunkWorkerSetup,
  post: PostToPool,
  options: ServeOptions = {},
): (m: ToWorker) => void {
  const slowPageCommitMs = options.slowPageCommitMs ?? SLOW_PAGE_COMMIT_MS;
  const groupCommitRetryMs = options.groupCommitRetryMs ?? GROUP_COMMIT_RETRY_MS;
  const cdc = new FastCDC(setup.chunker);
  const codec = codecFromSetup(setup);
  const cancelled = new Set<number>();
  const waiting = new Map<string, (need: Uint8Array) => void>();
  const queue: { task: number; path: string | Uint8Array; direct: boolean }[] = [];
  let running: Promise<void> | undefined;
  /** Set by `close`: every job stops at its next window. */
  let closing = false;
  /** Objects handed to the writer and not yet durable (or failed): `close` waits for them. */
  const publishing = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>): void => {
    const settled: Promise<unknown> = p.then(
      () => publishing.delete(settled),
      () => publishing.delete(settled),
    );
    publishing.add(settled);
  };

  const writer = setup.direct ? new LocalDirectWriter(setup.direct) : undefined;
  // Objects are published in batches (group-commit.ts) where the file system allows.
  const commits = writer?.groupSync ? new GroupCommit(writer) : undefined;
  const seen = new Set<string>();
  // A window holds less than WINDOW_BYTES + max bytes, in at most one chunk per `min`
  // bytes and one more, each sealed at most `storedSize(0)` bytes larger.
  const windowMost = WINDOW_BYTES + setup.chunker.max;
  const slabs = new SlabRing(
    codec.storedSize(windowMost) +
      (Math.ceil(windowMost / setup.chunker.min) + 1) * codec.storedSize(0),
  );
  // Single objects go into the group commit unless one of its commits was slow lately
  // (see SLOW_PAGE_COMMIT_MS): until this time they have their own fsyncs.
  let ownFsyncsUntil = 0;

  async function run(task: number, path: string | Uint8Array, direct: boolean): Promise<void> {
    const file = typeof path === 'string' ? path : Buffer.from(path);
    try {
      if (direct && writer) {
        const { reported } = await runDirectChunkJob(file, cdc, codec, writer, commits, seen, {
          stored: (w) => post({ type: 'stored', task, ...w }, []),
          cancelled: () => closing || cancelled.has(task),
        });
        track(reported);
        // The file is read: this thread takes the next one while its objects are published.
        post({ type: 'read', task }, []);
        void reported
          .then(
            () => post({ type: 'done', task }, []),
            (err) => post({ type: 'error', task, error: toWireError(err) }, []),
          )
          .finally(() => cancelled.delete(task));
        return;
      }
      await runChunkJob(file, cdc, codec, {
        ids: (w) => post({ type: 'ids', task, ...w }, []),
        need: (window) =>
          new Promise<Uint8Array>((resolve) => waiting.set(`${task}:${window}`, resolve)),
        slab: (bytes) => slabs.take(bytes),
        sealed: (window, chunks) =>
          post(
            { type: 'sealed', task, window, chunks },
            chunks.length > 0 ? [chunks[0]!.sealed.buffer as ArrayBuffer] : [],
          ),
        cancelled: () => closing || cancelled.has(task),
      });
      post({ type: 'done', task }, []);
      cancelled.delete(task);
    } catch (err) {
      cancelled.delete(task);
      post({ type: 'error', task, error: toWireError(err) }, []);
    }
  }

  function drain(): void {
    running ??= (async () => {
      try {
        for (let next = queue.shift(); next; next = queue.shift())
          await run(next.task, next.path, next.direct);
      } finally {
        running = undefined;
      }
    })();
  }

  /** Wakes the jobs waiting for a decision on `task`'s windows (or all) with "none". */
  function wakeWaiting(task?: number): void {
    for (const [key, resolve] of waiting) {
      if (task === undefined || key.startsWith(`${task}:`)) {
        waiting.delete(key);
        resolve(new Uint8Array(0));
      }
    }
  }

  /**
   * Stops serving: the queued files are dropped, the running job stops at its next
   * window, objects being published finish or fail, and the temporary files no batch
   * will publish are removed. Without this a thread terminated in the middle of a
   * stopped backup left `.tmp~` files behind (prune removes them only an hour later).
   */
  async function close(): Promise<void> {
    closing = true;
    queue.length = 0;
    wakeWaiting();
    await running;
    await commits?.abandon(new Error('chunk pool is closed'));
    await Promise.allSettled([...publishing]);
    await writer?.settled();
    post({ type: 'closed' }, []);
  }

  /**
   * Hands the buffer of a put's plaintext back to the pool once it is written, for a
   * later page (manifest/page-buffers.ts). The whole buffer moves: `data` owns it (a
   * page builder's buffer, or the pool's exact copy).
   */
  function handBack(data: Uint8Array): void {
    const buffer = data.buffer as ArrayBuffer;
    if (buffer.byteLength > 0) post({ type: 'put-buffer', buffer }, [buffer]);
  }

  /** Reports a put once written and durable (it takes no bytes: see `writePut`). */
  async function reportPut(
    task: number,
    writing: Promise<{ storedBytes: number; durable: Promise<boolean> }>,
  ): Promise<void> {
    try {
      const { storedBytes, durable } = await writing;
      const written = await durable;
      post({ type: 'put-done', task, written, storedBytes }, []);
    } catch (err) {
      post({ type: 'error', task, error: toWireError(err) }, []);
    }
  }

  /**
   * Seals and writes one object; `durable` resolves once it is durable (false: it
   * existed). Its own function so that nothing holds the object's bytes while
   * `durable` is awaited: an async function keeps its arguments alive until it
   * returns, and a page buffer kept alive through a commit is promoted to the old
   * generation, where it waits for a full collection (the first backup of 100,000
   * small files peaked 15-20 MiB higher).
   */
  async function writePut(
    key: string,
    data: Uint8Array,
  ): Promise<{ storedBytes: number; durable: Promise<boolean> }> {
    if (!writer) throw new Error('this chunk worker cannot write directly');
    const size = writer.sizeOf(key);
    if (size !== undefined) {
      // Named already, perhaps by a batch of this thread still committing: report it
      // once everything handed in before is durable (an empty hand-in is a barrier).
      const durable = commits
        ? commitNow(commits, [], 0).then(() => false)
        : Promise.resolve(false);
      durable.catch(() => {}); // handled by reportPut's await, a moment later
      handBack(data);
      return { storedBytes: size, durable };
    }
    const parts = await codec.sealParts(data, plaintextKindOf(key));
    const storedBytes = parts[0].length + parts[1].length;
    const item = { key, parts };
    let durable: Promise<boolean[]>;
    if (commits && performance.now() >= ownFsyncsUntil) {
      const started = performance.now();
      durable = commitNow(commits, writer.writeTemps([item]), storedBytes);
      durable.then(
        () => {
          const now = performance.now();
          if (now - started > slowPageCommitMs) ownFsyncsUntil = now + groupCommitRetryMs;
        },
        () => {},
      );
    } else {
      // putMany writes before it returns and keeps no bytes while its fsyncs run.
      durable = writer.putMany([item]);
    }
    // Written (writeTemps and putMany write before they return): the buffer goes back.
    handBack(data);
    const reported = durable.then(([written]) => written!);
    reported.catch(() => {}); // handled by reportPut's await, a moment later
    return { storedBytes, durable: reported };
  }

  return (message) => {
    if (message.type === 'put') {
      if (closing) return;
      const writing = writePut(message.key, message.data);
      track(writing.then((w) => w.durable));
      void reportPut(message.task, writing);
    } else if (message.type === 'task') {
      if (closing) return;
      queue.push(message);
      drain();
    } else if (message.type === 'spare') {
      slabs.giveBack(message.buffer);
    } else if (message.type === 'close') {
      void close();
    } else if (message.type === 'need') {
      const key = `${message.task}:${message.window}`;
      const resolve = waiting.get(key);
      waiting.delete(key);
      resolve?.(message.need);
    } else {
      cancelled.add(message.task);
      // Wake a job waiting on this task so it sees the cancellation.
      wakeWaiting(message.task);
    }
  };
}

/**
 * Hands a single object to the group commit and asks for a commit at once: its caller
 * waits for it, so it is not held back to fill a batch; objects that arrive while a
 * batch commits go together in the next.
 */
function commitNow(
  commits: GroupCommit,
  pending: PendingObject[],
  bytes: number,
): Promise<boolean[]> {
  const done = commits.add(pending, bytes);
  commits.flush();
  return done;
}

/**
 * Slabs kept for reuse per thread. One is enough in the steady state: a window's slab
 * comes back once its chunks are written, before the decision on the next window that
 * lets that one be sealed.
 */
const MAX_SPARE_SLABS = 2;

/**
 * The buffers a thread seals windows into, moved to the pool with the sealed chunks and
 * handed back once they are written. With the windows cut as views (chunk-job.ts
 * SpanReader), a thread then makes no buffer per chunk: copies per chunk, allocated
 * on the thread (and the sealed ones freed on the pool's thread after their upload),
 * left each thread's malloc arena tens of MiB larger than its live data
 * (docs/performance.md › Memory).
 */
class SlabRing {
  private readonly spares = new SpareBuffers(MAX_SPARE_SLABS);

  /**
   * @param minBytes the smallest slab made: the bound on a whole window sealed, so that
   * one slab handed back fits any later window
   */
  constructor(private readonly minBytes: number) {}

  /** A slab of at least `bytes`: a spare one when one is large enough. */
  take(bytes: number): Uint8Array {
    return new Uint8Array(
      this.spares.take(bytes) ?? new ArrayBuffer(Math.max(bytes, this.minBytes)),
    );
  }

  /** Keeps `buffer` for a later window; when full, in place of a smaller one. */
  giveBack(buffer: ArrayBuffer): void {
    this.spares.keep(buffer);
  }
}
