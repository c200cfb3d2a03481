/**
 * Restore's worker pool, for local repositories: worker threads write batches of small
 * files and rebuild chunked files (read, verify, write: restore-jobs.ts) while the
 * calling thread reads the trees and decides what goes where. Both cores work, and the
 * calling thread makes no round trip per object.
 *
 * Each worker runs its jobs one at a time, in order; a job goes to the worker with the
 * fewest jobs waiting. Where the compiled worker script is missing (running from
 * TypeScript sources, as the unit tests do) no pool is offered (`restoreWorkers` says 0);
 * with `workers: 0` the same jobs run on the calling thread (for tests).
 *
 * Starting up: a worker thread takes 100-150 ms here to load, longer than a small
 * restore takes (a 30 MB release: about 0.1 s). So the first jobs, up to
 * CALLING_THREAD_BUDGET of work, run on the calling thread, in order; only past that do
 * the workers start, and later jobs wait for them in their queues.
 */
import { availableParallelism } from 'node:os';
import { SpareBuffers } from '../core/spare-buffers.js';
import { CALLING_THREAD_BUDGET, compiledWorker, startWorker } from '../core/worker-thread.js';
import type { Xattr } from '../core/xattrs.js';

export { CALLING_THREAD_BUDGET };

import type { Owner, SmallFile } from './restore-fs.js';
import { RestoreJobRunner } from './restore-jobs.js';
import {
  type FileJob,
  type FromRestoreWorker,
  fromWireFailure,
  type RestoreWorkerSetup,
  SMALL_META_FIELDS,
  type SmallFilesJob,
  type ToRestoreWorker,
} from './restore-protocol.js';

/** What a chunked file to restore needs (FileJob without the routing fields). */
export type FileJobSpec = Omit<FileJob, 'type' | 'task'>;

/** What the pool reports of a restored chunked file. */
export interface FileJobResult {
  /** Bytes read from the repository. */
  fetched: number;
  /** Bytes of chunks known to be all zeros, left as holes without reading them again. */
  reused: number;
  /** Why some extended attributes of the file could not be set. */
  xattrProblem?: string;
}

/**
 * One small file of a batch that could not be written, or (`written`) was written
 * without all of its extended attributes.
 */
export interface SmallFileFailure {
  index: number;
  error: Error;
  written?: true;
}

interface Server {
  /** Jobs posted and not yet answered. */
  load: number;
  post(job: ToRestoreWorker, transfer: ArrayBuffer[]): void;
  terminate(): Promise<void>;
}

interface Task {
  server: Server;
  resolve(message: FromRestoreWorker): void;
  reject(err: Error): void;
  onProgress?: (bytes: number) => void;
}

/**
 * Batch content buffers are sized in steps of this (a batch holds about 1 MiB: see
 * ops/restore.ts), and at most so many are kept (about as many as are in flight).
 */
const BATCH_BUFFER_STEP = 256 * 1024;
const MAX_SPARE_BATCH_BUFFERS = 8;

/**
 * What a file counts against CALLING_THREAD_BUDGET besides its content: creating a file
 * costs about as much as writing that much here.
 */
const FILE_COST_BYTES = 64 * 1024;

/**
 * The number of worker threads a restore pool would run: `requested` (default: the
 * `CAIRN_WORKERS` variable, else the number of cores, at most 4), or 0 when the compiled
 * worker script is not there.
 */
export function restoreWorkers(requested?: number): number {
  if (!workerScript()) return 0;
  const env = Number(process.env.CAIRN_WORKERS);
  if (requested !== undefined) return Math.max(0, requested);
  if (process.env.CAIRN_WORKERS !== undefined && Number.isInteger(env) && env >= 0) return env;
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** Runs restore jobs on worker threads (or the calling thread); see the module comment. */
export class RestorePool {
  private readonly setup: RestoreWorkerSetup;
  /** The worker threads (none before the budget is spent), or the inline server. */
  private servers: Server[] | undefined;
  /** The calling thread, serving the first jobs (see the module comment). */
  private startupServer: Server | undefined;
  private startupBytes = 0;
  /** Jobs run on the calling thread while starting up (diagnostics, tests). */
  jobsRunWhileStarting = 0;
  private readonly tasks = new Map<number, Task>();
  private nextTask = 0;
  private failure: Error | undefined;
  private closed = false;
  /** Directories with batches of small files waiting, and the server they wait on. */
  private readonly dirs = new Map<string, { server: Server; batches: number }>();
  /** Content buffers of answered batches of small files, for later batches. */
  private readonly spareBatchBuffers = new SpareBuffers(MAX_SPARE_BATCH_BUFFERS);

  /**
   * @param setup the repository to read (root, codec); the abort flag is the pool's own
   * @param workers worker threads; 0 runs the jobs on the calling thread
   */
  constructor(
    setup: Omit<RestoreWorkerSetup, 'abort'>,
    private readonly workers: number,
  ) {
    this.setup = { ...setup, abort: new SharedArrayBuffer(4) };
  }

  /** True once a job has been given to the pool. */
  get started(): boolean {
    return this.servers !== undefined;
  }

  /** Worker threads started (diagnostics, tests). */
  threadsStarted = 0;
  /** Batches of small files sent in a buffer an earlier batch handed back (diagnostics, tests). */
  batchBuffersReused = 0;

  /** Jobs given and not yet finished. */
  get pending(): number {
    return this.tasks.size;
  }

  /**
   * Writes `files` (content inline or empty) into `dir`, a directory this restore
   * created (`staged`: see restore-fs.ts). Resolves with the files that failed (the
   * others are in place).
   */
  async smallFiles(
    dir: string,
    owner: Owner | undefined,
    files: readonly SmallFile[],
    staged = false,
  ): Promise<SmallFileFailure[]> {
    let bytes = 0;
    for (const f of files) bytes += f.inline?.length ?? 0;
    const data = this.batchBuffer(bytes);
    const meta = new Float64Array(files.length * SMALL_META_FIELDS);
    const names: string[] = [];
    const xattrs: [number, Xattr[]][] = [];
    let at = 0;
    for (let i = 0, m = 0; i < files.length; i++, m += SMALL_META_FIELDS) {
      const f = files[i]!;
      const length = f.inline?.length ?? 0;
      if (f.inline) data.set(f.inline, at);
      meta[m] = f.mode;
      meta[m + 1] = f.uid;
      meta[m + 2] = f.gid;
      meta[m + 3] = f.mtime.sec;
      meta[m + 4] = f.mtime.nsec;
      meta[m + 5] = at;
      meta[m + 6] = length;
      at += length;
      names.push(f.name);
      if (f.xattrs) xattrs.push([i, f.xattrs]);
    }
    const job = {
      type: 'small' as const,
      dir,
      names,
      meta,
      data,
      ...(owner ? { owner } : {}),
      ...(staged ? { staged } : {}),
      ...(xattrs.length > 0 ? { xattrs } : {}),
    };
    const reply = await this.submit(
      job,
      [data.buffer as ArrayBuffer, meta.buffer as ArrayBuffer],
      bytes + files.length * FILE_COST_BYTES,
      undefined,
      dir,
    );
    if (reply.type !== 'small-done') throw new Error(`unexpected reply ${reply.type}`);
    if (reply.spare && !this.closed) this.spareBatchBuffers.keep(reply.spare);
    return reply.failed.map(({ index, error, written }) =>
      written
        ? { index, error: fromWireFailure(error), written }
        : { index, error: fromWireFailure(error) },
    );
  }

  /**
   * A buffer for `bytes` of a batch's content: a spare one handed back with an earlier
   * batch's answer, else a new one (uninitialised: every byte of the view is written).
   * A new buffer per batch cost the calling thread a zeroed allocation, page faults on
   * every byte, and garbage collections for the external memory, freed on the worker.
   */
  private batchBuffer(bytes: number): Uint8Array {
    const rounded = Math.max(1, Math.ceil(bytes / BATCH_BUFFER_STEP)) * BATCH_BUFFER_STEP;
    const spare = this.spareBatchBuffers.take(bytes, 2 * rounded);
    if (spare) this.batchBuffersReused++;
    return new Uint8Array(spare ?? Buffer.allocUnsafeSlow(rounded).buffer, 0, bytes);
  }

  /** Restores one chunked file; `onProgress` gets the bytes written so far. */
  async file(spec: FileJobSpec, onProgress?: (bytes: number) => void): Promise<FileJobResult> {
    const reply = await this.submit(
      { type: 'file', ...spec },
      [],
      spec.size + FILE_COST_BYTES,
      onProgress,
    );
    if (reply.type !== 'file-done') throw new Error(`unexpected reply ${reply.type}`);
    const { fetched, reused, xattrProblem } = reply;
    return xattrProblem ? { fetched, reused, xattrProblem } : { fetched, reused };
  }

  /** Makes every job stop at its next file or chunk (they fail with AbortedError). */
  abort(): void {
    Atomics.store(new Int32Array(this.setup.abort), 0, 1);
  }

  /** Stops the workers (after the jobs given have finished or failed). */
  async close(): Promise<void> {
    this.closed = true;
    this.spareBatchBuffers.clear();
    const servers = [...(this.servers ?? []), ...(this.startupServer ? [this.startupServer] : [])];
    this.servers = [];
    await Promise.all(servers.map((s) => s.terminate()));
  }

  /**
   * Posts `job` (`cost` bytes of work, see CALLING_THREAD_BUDGET) to the calling thread
   * while starting up, else to the least loaded server, or, for small files of a
   * directory that already has batches waiting, to the server that has them: files
   * created in one directory by two threads at once queue on the directory's lock in
   * the kernel.
   */
  private submit(
    job: Omit<SmallFilesJob | FileJob, 'task'> & { type: 'small' | 'file' },
    transfer: ArrayBuffer[],
    cost: number,
    onProgress?: (bytes: number) => void,
    dir?: string,
  ): Promise<FromRestoreWorker> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('restore pool is closed'));
    const workerScriptUrl = this.workers > 0 ? workerScript() : undefined;
    this.servers ??= workerScriptUrl ? [] : [this.inlineServer()];
    const owner = dir === undefined ? undefined : this.dirs.get(dir);
    const withinBudget = workerScriptUrl && this.startupBytes + cost <= CALLING_THREAD_BUDGET;
    let server: Server;
    // A directory's batches stay with the thread that has some waiting, but the calling
    // thread's only within its budget (else a large directory would keep it all).
    if (owner && owner.batches > 0 && (owner.server !== this.startupServer || withinBudget)) {
      server = owner.server;
    } else if (withinBudget) {
      server = this.startupServer ??= this.inlineServer();
    } else {
      if (workerScriptUrl && this.servers.length === 0) {
        // The budget is spent: the workers start, and take every later job.
        this.startupBytes = CALLING_THREAD_BUDGET;
        for (let i = 0; i < this.workers; i++)
          this.servers.push(this.workerServer(workerScriptUrl));
        this.threadsStarted = this.workers;
      }
      server = this.servers[0]!;
      for (const s of this.servers) if (s.load < server.load) server = s;
    }
    if (server === this.startupServer) {
      this.startupBytes += cost;
      this.jobsRunWhileStarting++;
    }
    if (dir !== undefined) {
      const entry = owner?.server === server ? owner : { server, batches: 0 };
      entry.batches++;
      this.dirs.set(dir, entry);
      const settle = () => {
        if (--entry.batches === 0 && this.dirs.get(dir) === entry) this.dirs.delete(dir);
      };
      const reply = this.post(server, job, transfer, onProgress);
      reply.then(settle, settle);
      return reply;
    }
    return this.post(server, job, transfer, onProgress);
  }

  private post(
    server: Server,
    job: Omit<SmallFilesJob | FileJob, 'task'> & { type: 'small' | 'file' },
    transfer: ArrayBuffer[],
    onProgress?: (bytes: number) => void,
  ): Promise<FromRestoreWorker> {
    const task = this.nextTask++;
    return new Promise<FromRestoreWorker>((resolve, reject) => {
      this.tasks.set(task, { server, resolve, reject, ...(onProgress ? { onProgress } : {}) });
      server.load++;
      server.post({ ...job, task } as ToRestoreWorker, transfer);
    });
  }

  private inlineServer(): Server {
    const runner = new RestoreJobRunner(this.setup);
    let queue: Promise<void> = Promise.resolve();
    const server: Server = {
      load: 0,
      post: (job) => {
        // Asynchronous, as worker replies are; one job at a time, in order.
        queue = queue.then(() => runner.run(job, (m) => this.onMessage(m)));
      },
      terminate: () => queue,
    };
    return server;
  }

  private workerServer(script: URL): Server {
    // Its garbage is small and short-lived (chunk bytes live in a reused buffer): a small
    // young generation keeps its memory small (2 MiB: peak RSS of a 2 GiB restore
    // 105 -> 93 MiB, same time).
    const worker = startWorker(script, {
      workerData: this.setup,
      youngGenerationMb: 2,
      label: 'restore worker thread',
      closing: () => this.closed,
      lost: (err) => {
        // A worker that dies fails every job: what it was writing is unknown.
        this.failure ??= err;
        for (const [id, t] of this.tasks) {
          if (t.server !== server) continue;
          this.tasks.delete(id);
          t.reject(err);
        }
      },
    });
    const server: Server = {
      load: 0,
      post: (job, transfer) => worker.postMessage(job, transfer),
      terminate: async () => {
        await worker.terminate();
      },
    };
    worker.on('message', (m: FromRestoreWorker) => this.onMessage(m));
    return server;
  }

  private onMessage(m: FromRestoreWorker): void {
    const t = this.tasks.get(m.task);
    if (!t) return;
    if (m.type === 'progress') {
      t.onProgress?.(m.bytes);
      return;
    }
    this.tasks.delete(m.task);
    t.server.load--;
    if (m.type === 'error') t.reject(fromWireFailure(m.error));
    else t.resolve(m);
  }
}

/** The compiled worker beside this module, or undefined when running from sources. */
function workerScript(): URL | undefined {
  return compiledWorker('restore-worker.js', import.meta.url);
}
