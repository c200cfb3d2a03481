/**
 * Messages between the chunk pool (chunk-pool.ts) and its worker threads
 * (chunk-worker.ts). Structured-cloned; the slab holding a window's sealed chunks is
 * transferred, and comes back once they are written.
 */

import type { LocalDirectSetup } from '../backends/local-direct.js';
import type { ChunkerParams } from '../chunker/params.js';
import { CairnError, type ErrorCode } from '../core/errors.js';
import type { SealedChunk, StoredWindow, WindowIds } from './chunk-job.js';
import type { CodecSetup } from './codec-setup.js';

/** What a worker needs to cut, name and seal exactly like the repository does. */
export interface ChunkWorkerSetup extends CodecSetup {
  chunker: ChunkerParams;
  /** Set when jobs may write into a local repository themselves (local-direct.ts). */
  direct?: LocalDirectSetup;
}

/** Pool to worker. */
export type ToWorker =
  | { type: 'task'; task: number; path: string | Uint8Array; direct: boolean }
  | { type: 'need'; task: number; window: number; need: Uint8Array }
  | { type: 'cancel'; task: number }
  /**
   * The slab of a `sealed` window whose chunks are all written, handed back to the
   * thread that sealed it for a later window (see chunk-serve.ts SlabRing).
   */
  | { type: 'spare'; buffer: ArrayBuffer }
  /** Seal and write one object directly (local repositories): see ChunkPool.putDirect. */
  | { type: 'put'; task: number; key: string; data: Uint8Array }
  /**
   * The pool is closing: stop every job, remove the temporary files not published yet,
   * then answer `closed` (the thread is terminated after that).
   */
  | { type: 'close' };

/** A read error, rebuilt on the other side with the same errno fields. */
export interface WireError {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  /** Set when the error was a CairnError (then `code` is its ErrorCode). */
  cairn?: boolean;
}

/** Worker to pool. */
export type FromWorker =
  /** The worker has loaded its modules and serves jobs from now on (its first message). */
  | { type: 'ready' }
  | ({ type: 'ids'; task: number } & WindowIds)
  | ({ type: 'stored'; task: number } & StoredWindow)
  | { type: 'sealed'; task: number; window: number; chunks: SealedChunk[] }
  /**
   * A direct job has read its file (its objects may still be being published): the
   * worker can take another file. `done` or `error` follows.
   */
  | { type: 'read'; task: number }
  | { type: 'done'; task: number }
  | { type: 'put-done'; task: number; written: boolean; storedBytes: number }
  /** The buffer of a `put`, written: handed back for reuse (see ChunkPoolOptions). */
  | { type: 'put-buffer'; buffer: ArrayBuffer }
  | { type: 'error'; task: number; error: WireError }
  /** The answer to `close`: nothing of this thread is left in the repository's folders. */
  | { type: 'closed' };

/** Flattens an error for postMessage. */
export function toWireError(err: unknown): WireError {
  const e = err as NodeJS.ErrnoException;
  const out: WireError = { message: e instanceof Error ? e.message : String(err) };
  if (typeof e?.code === 'string') out.code = e.code;
  if (typeof e?.errno === 'number') out.errno = e.errno;
  if (typeof e?.syscall === 'string') out.syscall = e.syscall;
  if (err instanceof CairnError) out.cairn = true;
  return out;
}

/** Rebuilds an error from the wire (an Error with the errno fields, as fs throws). */
export function fromWireError(w: WireError): Error {
  // Repository failures stay CairnErrors: the backup treats them as fatal, not as warnings.
  if (w.cairn && w.code) return new CairnError(w.code as ErrorCode, w.message);
  return Object.assign(new Error(w.message), {
    ...(w.code ? { code: w.code } : {}),
    ...(w.errno !== undefined ? { errno: w.errno } : {}),
    ...(w.syscall ? { syscall: w.syscall } : {}),
  });
}
