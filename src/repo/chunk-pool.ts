/**
 * The chunk pool: backup's data path on worker threads. Each file is read, cut, hashed
 * and sealed by a worker (chunk-job.ts) while this thread only decides which chunks are
 * new (BlobStore.claim) and writes them (BlobStore.putClaimed), so on a machine with
 * n cores, n files are cut and hashed at once and the event loop stays free for I/O.
 *
 * Backpressure: a worker waits for the decision on a window before sealing it, and the
 * decision on window k is given only once window k-1 is written, so each file holds at
 * most about three windows (a few MiB each) whatever the speed of the backend.
 *
 * Workers start one at a time, when there is work and none is free (a backup where
 * nothing changed starts none; one of small files, which only sends tree pages, one).
 * Where the compiled worker script is missing (running from TypeScript sources, as the unit
 * tests do) or `workers` is 0, the same jobs run on the calling thread.
 *
 * Starting up: a worker thread takes 100-150 ms here to load before its first job, as
 * long as a whole small backup needs (a 30 MB release: about 0.1 s of cutting and
 * hashing). So the first CALLING_THREAD_BUDGET bytes of work (small files of known size,
 * and direct puts) run on the calling thread, one file at a time; past that the first
 * worker starts, and the calling thread keeps taking small files until a worker says it
 * is ready. A file too large for the calling thread starts a worker at once.
 */
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import type { CallOptions } from '../backends/backend.js';
import type { LocalDirectSetup } from '../backends/local-direct.js';
import type { ChunkerParams } from '../chunker/params.js';
import { throwIfAborted } from '../core/abort.js';
import { AbortedError, BackendError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { CALLING_THREAD_BUDGET, compiledWorker, startWorker } from '../core/worker-thread.js';

export { CALLING_THREAD_BUDGET };

import type { ChunkRef } from '../manifest/types.js';
import type { BlobStore } from './blob-store.js';
import { releaseSpareReadBuffer, type SealedChunk, type StoredWindow } from './chunk-job.js';
import type { ChunkWorkerSetup, FromWorker, ToWorker } from './chunk-protocol.js';
import { fromWireError } from './chunk-protocol.js';
import { serveChunkJobs } from './chunk-serve.js';
import type { ObjectCodec } from './codec.js';
import { codecSetup } from './codec-setup.js';

/** Options of a chunk pool. */
export interface ChunkPoolOptions {
  /**
   * Worker threads (default: the number of cores, at most 8; `CAIRN_WORKERS` overrides).
   * 0 runs every job on the calling thread.
   */
  workers?: number;
  /**
   * Let jobs write into this local repository themselves (BlobStore.directSetup), so
   * new chunks never pass through the calling thread.
   */
  direct?: LocalDirectSetup | undefined;
  /**
   * Receives the buffer of each `putDirect` object once it is written: the pool has no
   * use for it, the caller may fill it again (tree pages: manifest/page-buffers.ts).
   */
  onSpareBuffer?: (buffer: ArrayBuffer) => void;
}

/** Options of one file. */
export interface StoreFileOptions extends CallOptions {
  /** Called with the number of bytes read, as the file is read. */
  onBytes?: (n: number) => void;
  /**
   * Called with the bytes of each piece of the file (a window) once its chunks are
   * stored or found already there: progress that keeps pace with the writes, where
   * `onBytes` runs a few windows ahead of them.
   */
  onBytesStored?: (n: number) => void;
  /**
   * The file's size as last seen (lstat), if known: a small file may then run on the
   * calling thread while the worker threads start (see the module comment).
   */
  size?: number;
}

/** Something that serves chunk jobs: a worker thread or the inline server. */
interface Server {
  post(message: ToWorker, transfer?: ArrayBuffer[]): void;
  /** Tasks assigned and not finished. */
  busy: number;
  /** False while a worker thread is still starting (messages wait in its queue). */
  ready: boolean;
  /** Stops it: see `stopServing`. */
  terminate(): Promise<void>;
  /** Called on its `closed` message. */
  onClosed?: () => void;
}

/** How long a closing pool waits for a thread's `closed` before terminating it anyway. */
const CLOSE_WAIT_MS = 5000;

/**
 * Asks `server` to close and waits for its `closed` (or `gone`, or CLOSE_WAIT_MS): it
 * removes the temporary files of objects it will not publish (see chunk-serve.ts).
 */
function stopServing(server: Server, gone?: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CLOSE_WAIT_MS);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    server.onClosed = done;
    gone?.then(done, done);
    server.post({ type: 'close' });
  });
}

/**
 * Largest file run on the calling thread while starting up: a few tens of milliseconds
 * of cutting and hashing, so the walk is not held up for long.
 */
export const STARTUP_FILE_MAX = 16 * 1024 * 1024;

/** The pool's side of one file. */
class FileTask {
  /** Resolves the file's chunk list once every new chunk is written. */
  readonly result: Promise<ChunkRef[]>;
  settled = false;
  private resolve!: (refs: ChunkRef[]) => void;
  private reject!: (err: unknown) => void;
  private readonly refs: ChunkRef[][] = [];
  private readonly ids = new Map<number, ObjectId[]>();
  /** Per window: resolves when its new chunks are written. */
  private readonly written = new Map<number, Deferred>();
  /** Per window: indexes claimed (to be written by this task) and not yet written. */
  private readonly claimed = new Map<number, Set<number>>();
  private chain: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(
    readonly id: number,
    readonly server: Server,
    private readonly blobs: BlobStore,
    private readonly options: StoreFileOptions,
  ) {
    this.result = new Promise<ChunkRef[]>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.result.catch(() => {});
  }

  private get call(): CallOptions {
    return this.options.signal ? { signal: this.options.signal } : {};
  }

  onIds(window: number, ids: ObjectId[], sizes: number[], bytesRead: number): void {
    this.options.onBytes?.(bytesRead);
    this.ids.set(window, ids);
    this.refs[window] = ids.map((id, i) => ({ id, size: sizes[i]! }));
    const written = deferred();
    this.written.set(window, written);
    if (this.options.onBytesStored) {
      const stored = this.options.onBytesStored;
      written.promise.then(
        () => stored(bytesRead),
        () => {},
      );
    }
    this.chain = this.chain.then(async () => {
      if (this.failed) return;
      // Backpressure: decide on this window once the one before it is written.
      await this.written.get(window - 1)?.promise;
      const need = new Uint8Array(ids.length);
      const claimed = new Set<number>();
      await Promise.all(
        ids.map(async (id, i) => {
          if (await this.blobs.claim('data', id, this.call)) {
            need[i] = 1;
            claimed.add(i);
          }
        }),
      );
      if (this.failed) {
        for (const i of claimed) this.blobs.release('data', ids[i]!);
        return;
      }
      this.claimed.set(window, claimed);
      if (claimed.size === 0) written.resolve();
      this.server.post({ type: 'need', task: this.id, window, need });
    });
    this.chain.catch((err) => this.fail(err));
  }

  /** A window a direct job cut and wrote itself. */
  onStored(w: StoredWindow): void {
    if (this.failed) return;
    this.options.onBytes?.(w.bytesRead);
    // Reported once its new chunks are written (durable, or handed to a group commit).
    this.options.onBytesStored?.(w.bytesRead);
    this.refs[w.window] = w.ids.map((id, i) => ({ id, size: w.sizes[i]! }));
    if (w.added.length === 0) return;
    const noted = Promise.all(
      w.added.map((a) => this.blobs.noteStored('data', w.ids[a.index]!, a.storedBytes)),
    ).then(() => {});
    const done = deferred();
    noted.then(done.resolve, done.reject);
    this.written.set(w.window, done);
  }

  onSealed(window: number, chunks: SealedChunk[]): void {
    const ids = this.ids.get(window);
    const claimed = this.claimed.get(window);
    const written = this.written.get(window);
    if (!ids || !claimed || !written || this.failed) return;
    const writes = chunks.map(async (c) => {
      if (!claimed.delete(c.index)) return;
      await this.blobs.putClaimed('data', ids[c.index]!, c.sealed, this.call);
    });
    Promise.all(writes).then(
      () => {
        // Every claimed chunk arrives sealed; anything else is a bug worth failing on.
        if (claimed.size > 0) throw new Error(`chunk worker skipped ${claimed.size} chunks`);
        this.ids.delete(window);
        written.resolve();
        // Every write is done with the slab: it goes back for a later window. Only
        // then: a failed write may still be sending (retries, an aborted request).
        const slab = chunks[0]?.sealed.buffer as ArrayBuffer | undefined;
        if (slab) this.server.post({ type: 'spare', buffer: slab }, [slab]);
      },
      (err) => {
        written.reject(err);
        this.fail(err);
      },
    );
  }

  async onDone(): Promise<void> {
    try {
      await this.chain;
      await Promise.all([...this.written.values()].map((w) => w.promise));
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.settled) return;
    this.settled = true;
    this.resolve(this.refs.flat());
  }

  fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.failed = true;
    this.server.post({ type: 'cancel', task: this.id });
    // Claims of chunks that will not be written now go back, so nobody waits on them.
    for (const [window, claimed] of this.claimed) {
      const ids = this.ids.get(window);
      for (const i of claimed) if (ids) this.blobs.release('data', ids[i]!);
      claimed.clear();
    }
    this.reject(err);
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Runs chunk jobs on worker threads; see the module comment. */
export class ChunkPool {
  private readonly size: number;
  private readonly setup: ChunkWorkerSetup;
  private servers: Server[] | undefined;
  private readonly tasks = new Map<number, FileTask>();
  private readonly puts = new Map<
    number,
    {
      server: Server;
      resolve: (r: { written: boolean; storedBytes: number }) => void;
      reject: (e: unknown) => void;
    }
  >();
  private readonly idle: Array<() => void> = [];
  /** Tasks whose server was freed by `read` before their `done` or `error`. */
  private readonly released = new Set<number>();
  private nextTask = 1;
  private closed = false;
  /** Worker threads started so far (0 while none, or when jobs run inline). */
  private started = 0;
  /** The calling thread, serving while no worker thread is ready (see the module comment). */
  private startupServer: Server | undefined;
  /** Bytes of files and puts given to `startupServer`. */
  private startupBytes = 0;
  /** Files and puts run on the calling thread while starting up (diagnostics, tests). */
  filesRunWhileStarting = 0;
  putsRunWhileStarting = 0;

  private readonly onSpareBuffer: ((buffer: ArrayBuffer) => void) | undefined;

  constructor(chunker: ChunkerParams, codec: ObjectCodec, options: ChunkPoolOptions = {}) {
    this.onSpareBuffer = options.onSpareBuffer;
    const env = Number.parseInt(process.env.CAIRN_WORKERS ?? '', 10);
    this.size = options.workers ?? (Number.isInteger(env) && env >= 0 ? env : defaultWorkers());
    this.setup = {
      chunker,
      ...(options.direct ? { direct: options.direct } : {}),
      ...codecSetup(codec),
    };
  }

  /** Number of worker threads (0 when jobs run on the calling thread). */
  get workers(): number {
    return this.size > 0 && workerScript() ? this.size : 0;
  }

  /**
   * Stores the file at `path` (a string, or a Buffer holding the raw bytes of a name that
   * is not UTF-8) as data chunks in `blobs`; resolves its chunk list. Read errors reject
   * with the file system's error (errno `code` kept).
   */
  async storeFile(
    path: string | Buffer,
    blobs: BlobStore,
    options: StoreFileOptions = {},
  ): Promise<ChunkRef[]> {
    if (this.closed) throw new AbortedError('chunk pool is closed');
    throwIfAborted(options.signal);
    const server = await this.acquire(options.size);
    const task = new FileTask(this.nextTask++, server, blobs, options);
    this.tasks.set(task.id, task);
    const onAbort = () => task.fail(new AbortedError());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      server.post({
        type: 'task',
        task: task.id,
        path: typeof path === 'string' ? path : new Uint8Array(path),
        // Written directly only into the store the pool was set up for.
        direct:
          this.setup.direct !== undefined && sameDirect(blobs.directSetup(), this.setup.direct),
      });
      return await task.result;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Worker threads started so far (diagnostics, tests). */
  get threadsStarted(): number {
    return this.started;
  }

  /**
   * True when `putDirect` works: the pool writes into a local repository (option
   * `direct`) and runs worker threads.
   */
  get canPutDirect(): boolean {
    return this.setup.direct !== undefined && this.workers > 0;
  }

  /**
   * Seals and writes one object (of the store the pool was set up for) on a worker
   * thread, as LocalBackend.put with `ifNotExists` would; resolves whether it was
   * written (false: it existed) and its stored size. Only when `canPutDirect`.
   * `movable`: the caller gives up `plaintext`, whose buffer moves to the worker
   * (the caller's view is empty afterwards); else it is copied.
   */
  putDirect(
    key: string,
    plaintext: Uint8Array,
    movable = false,
  ): Promise<{ written: boolean; storedBytes: number }> {
    if (!this.canPutDirect || this.closed) throw new Error('chunk pool cannot write directly');
    const servers = this.liveServers();
    const ready = servers.filter((s) => s.ready);
    let server: Server;
    if (ready.length > 0) server = ready[this.nextTask % ready.length]!;
    else {
      server = this.callingThread(plaintext.length);
      this.putsRunWhileStarting++;
    }
    const task = this.nextTask++;
    return new Promise((resolve, reject) => {
      this.puts.set(task, { server, resolve, reject });
      // A movable plaintext's buffer is moved as it is (a page builder's own buffer).
      // Else an exact copy, moved: posting a view would clone its whole underlying
      // buffer (an encoder's buffer can be many times the object's size).
      // (Uint8Array's slice copies; Buffer's would return a view of the same memory.)
      const data = movable ? plaintext : Uint8Array.prototype.slice.call(plaintext);
      server.post({ type: 'put', task, key, data }, [data.buffer as ArrayBuffer]);
    });
  }

  /**
   * Stops the workers. Files still being stored fail (callers settle theirs first), and
   * files waiting for a server are turned away. A second call waits for the first.
   */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private closing: Promise<void> | undefined;

  private async stop(): Promise<void> {
    this.closed = true;
    const closed = new AbortedError('chunk pool is closed');
    for (const task of this.tasks.values()) task.fail(closed);
    for (const put of this.puts.values()) put.reject(closed);
    this.puts.clear();
    for (const wake of this.idle.splice(0)) wake();
    releaseSpareReadBuffer();
    const servers = [...(this.servers ?? []), ...(this.startupServer ? [this.startupServer] : [])];
    this.servers = undefined;
    this.startupServer = undefined;
    await Promise.all(servers.map((s) => s.terminate()));
  }

  /**
   * A server with no task, waiting for one to finish if all are busy. Workers start one
   * at a time, as files need them: a backup of small files, whose tree pages alone go to
   * the workers, keeps to one (each costs 10-30 MiB of memory).
   */
  private async acquire(size: number | undefined): Promise<Server> {
    for (;;) {
      const free = this.pick(size);
      if (free) {
        free.busy++;
        return free;
      }
      await new Promise<void>((resolve) => this.idle.push(resolve));
    }
  }

  /**
   * The server for a file of `size` bytes, if one is free: a ready worker; while none is
   * ready yet, the calling thread for a small file (or none: the file waits for the
   * calling thread or a worker, whichever is free first); else a worker still starting
   * (the file waits in its queue), or one more worker.
   */
  private pick(size: number | undefined): Server | undefined {
    const servers = this.liveServers();
    const idle = servers.filter((s) => s.busy === 0);
    const ready = idle.find((s) => s.ready);
    if (ready) return ready;
    const startingUp = this.workers > 0 && !servers.some((s) => s.ready);
    if (startingUp && size !== undefined && size <= STARTUP_FILE_MAX) {
      if (this.startupServer && this.startupServer.busy > 0) return undefined;
      this.filesRunWhileStarting++;
      return this.callingThread(size);
    }
    return idle[0] ?? this.grow();
  }

  /**
   * The servers: the inline one when jobs run on the calling thread, else the worker
   * threads started so far (maybe none yet). Throws once every worker started has failed.
   */
  private liveServers(): Server[] {
    if (this.closed) throw new AbortedError('chunk pool is closed');
    this.servers ??= this.workers > 0 ? [] : [this.inlineServer()];
    if (this.started > 0 && this.servers.length === 0) {
      throw new BackendError('chunk pool: every worker thread failed');
    }
    return this.servers;
  }

  /**
   * The calling thread, for `bytes` of work while no worker is ready; once the budget
   * is spent, the first worker starts.
   */
  private callingThread(bytes: number): Server {
    this.startupServer ??= this.inlineServer();
    this.startupBytes += bytes;
    if (this.startupBytes > CALLING_THREAD_BUDGET && this.started === 0) this.grow();
    return this.startupServer;
  }

  /** One more worker thread, unless `size` have been started (or jobs run inline). */
  private grow(): Server | undefined {
    const script = workerScript();
    if (!script || !this.servers || this.size === 0 || this.started >= this.size) {
      return undefined;
    }
    this.started++;
    const server = this.workerServer(script);
    this.servers.push(server);
    return server;
  }

  private inlineServer(): Server {
    const server: Server = {
      busy: 0,
      ready: true,
      // Transferred buffers are moved as they would be to a worker: the sender's views
      // are emptied, so callers see the same behaviour on either.
      post: (message, transfer) =>
        handle(transfer?.length ? structuredClone(message, { transfer }) : message),
      terminate: () => stopServing(server),
    };
    // Replies go through a microtask, as worker messages would arrive asynchronously.
    const handle = serveChunkJobs(this.setup, (message) =>
      queueMicrotask(() => this.onMessage(server, message)),
    );
    return server;
  }

  private workerServer(script: URL): Server {
    // A worker's garbage is small and short-lived (ids, hash objects; chunk bytes live in
    // reused buffers): a small young generation keeps its memory small.
    const worker = startWorker(script, {
      workerData: this.setup,
      youngGenerationMb: YOUNG_GENERATION_MB,
      label: 'chunk worker thread',
      closing: () => this.closed,
      lost: (err) => {
        // A worker that dies fails its tasks and puts (the others' go on); the pool
        // stops using it.
        for (const task of this.tasks.values()) if (task.server === server) task.fail(err);
        for (const [id, put] of this.puts) {
          if (put.server !== server) continue;
          this.puts.delete(id);
          put.reject(err);
        }
        if (this.servers) this.servers = this.servers.filter((s) => s !== server);
        for (const wake of this.idle.splice(0)) wake();
      },
    });
    const server: Server = {
      busy: 0,
      ready: false,
      post: (message, transfer) => worker.postMessage(message, transfer),
      terminate: async () => {
        await stopServing(server, once(worker, 'exit'));
        await worker.terminate();
      },
    };
    worker.on('message', (message: FromWorker) => this.onMessage(server, message));
    return server;
  }

  private onMessage(server: Server, message: FromWorker): void {
    if (message.type === 'put-buffer') {
      if (!this.closed) this.onSpareBuffer?.(message.buffer);
      return;
    }
    if (message.type === 'closed') {
      server.onClosed?.();
      return;
    }
    if (message.type === 'ready') {
      server.ready = true;
      // Files waiting for a server may take this one now.
      for (const wake of this.idle.splice(0)) wake();
      return;
    }
    const put = this.puts.get(message.task);
    if (put) {
      this.puts.delete(message.task);
      if (message.type === 'put-done') {
        put.resolve({ written: message.written, storedBytes: message.storedBytes });
      } else if (message.type === 'error') {
        put.reject(fromWireError(message.error));
      }
      return;
    }
    const task = this.tasks.get(message.task);
    if (message.type === 'read') {
      this.release(server, message.task);
      return;
    }
    if (message.type === 'done' || message.type === 'error') {
      this.finished(server, message.task);
    }
    if (!task) return;
    switch (message.type) {
      case 'ids':
        task.onIds(message.window, message.ids, message.sizes, message.bytesRead);
        break;
      case 'stored':
        task.onStored(message);
        break;
      case 'sealed':
        task.onSealed(message.window, message.chunks);
        break;
      case 'done':
        void task.onDone();
        break;
      case 'error':
        task.fail(fromWireError(message.error));
        break;
    }
  }

  /** A server finished a task (done, failed or cancelled): it can take the next one. */
  private finished(server: Server, taskId: number): void {
    const task = this.tasks.get(taskId);
    // The entry stays until the task settles (onDone may still be writing).
    if (task) void task.result.catch(() => {}).finally(() => this.tasks.delete(taskId));
    if (!this.released.delete(taskId)) this.release(server, taskId, false);
  }

  /**
   * The server no longer reads for `taskId` (it may still publish its objects): it can
   * take the next file. `remember` notes it, so the task's `done` does not free it twice.
   */
  private release(server: Server, taskId: number, remember = true): void {
    if (remember) {
      if (this.released.has(taskId)) return;
      this.released.add(taskId);
    }
    server.busy--;
    // The calling thread takes only small files: any waiter may be the one it can serve.
    if (server === this.startupServer) for (const wake of this.idle.splice(0)) wake();
    else this.idle.shift()?.();
  }
}

/** Young-generation size of a worker's heap (V8's default grows to 16-32 MiB). */
const YOUNG_GENERATION_MB = 4;

/** The compiled worker script, or undefined when running from TypeScript sources. */
function workerScript(): URL | undefined {
  return compiledWorker('chunk-worker.js', import.meta.url);
}

function sameDirect(a: LocalDirectSetup | undefined, b: LocalDirectSetup): boolean {
  return a !== undefined && a.root === b.root && a.fsync === b.fsync;
}

function defaultWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}
