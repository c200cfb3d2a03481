/**
 * Messages between restore's worker pool (restore-pool.ts) and its worker threads
 * (restore-worker.ts), and the setup a worker starts with. Structured-cloned; the
 * content of a batch of small files travels in one transferred buffer, which comes
 * back with the answer to be filled again.
 */
import { CairnError, type ErrorCode } from '../core/errors.js';
import type { Xattr } from '../core/xattrs.js';
import type { CodecSetup } from '../repo/codec-setup.js';

/** What a worker needs to read and verify objects of a local repository. */
export interface RestoreWorkerSetup extends CodecSetup {
  /** Root directory of the local repository (LocalBackend's root). */
  root: string;
  /** One Int32: set to 1 when the restore is aborted (checked between files and chunks). */
  abort: SharedArrayBuffer;
}

/** Numbers per file in `SmallFilesJob.meta`. */
export const SMALL_META_FIELDS = 7;

/**
 * Files whose content is in the tree (inline or empty), all in directory `dir`, which
 * this restore created. File i is `names[i]`; `meta` holds, from i * SMALL_META_FIELDS:
 * mode, uid, gid, mtime seconds, mtime nanoseconds, offset and length of its content in
 * `data`.
 */
export interface SmallFilesJob {
  type: 'small';
  task: number;
  dir: string;
  /** The owner a new file in `dir` gets, when known (see restore-fs newFileOwner). */
  owner?: { uid: number; gid: number };
  /** `dir` is staged: files are written at their names directly (see restore-fs.ts). */
  staged?: boolean;
  names: string[];
  meta: Float64Array;
  data: Uint8Array;
  /** Extended attributes of the files that have some, by index. */
  xattrs?: [number, Xattr[]][];
}

/** One chunked file to restore from the repository into `dir`/`name`. */
export interface FileJob {
  type: 'file';
  task: number;
  dir: string;
  name: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: { sec: number; nsec: number };
  /** Chunk ids, in order, with their plaintext sizes. */
  ids: string[];
  sizes: number[];
  xattrs?: Xattr[];
  /** `dir` is staged: the file is written at its name directly (see restore-fs.ts). */
  staged?: boolean;
}

/** Pool to worker. */
export type ToRestoreWorker = SmallFilesJob | FileJob;

/** A failure, rebuilt on the other side with its code (CairnErrors stay CairnErrors). */
export interface WireFailure {
  message: string;
  code?: string;
  cairn?: boolean;
}

/** Worker to pool. */
export type FromRestoreWorker =
  /**
   * Small files done; `failed` lists the indexes that failed, with why (`written`: the
   * file is in place, only some of its extended attributes are not).
   */
  | {
      type: 'small-done';
      task: number;
      failed: { index: number; error: WireFailure; written?: true }[];
      /** The batch's `data` buffer, handed back (transferred) for a later batch. */
      spare?: ArrayBuffer;
    }
  /** Bytes of a file written so far (sent as it goes, for progress). */
  | { type: 'progress'; task: number; bytes: number }
  /** A file restored: bytes fetched from the repository, and bytes left as holes again. */
  | {
      type: 'file-done';
      task: number;
      fetched: number;
      reused: number;
      /** Why some extended attributes of the restored file could not be set. */
      xattrProblem?: string;
    }
  | { type: 'error'; task: number; error: WireFailure };

/** Flattens an error for postMessage. */
export function toWireFailure(err: unknown): WireFailure {
  const e = err as { message?: unknown; code?: unknown };
  const out: WireFailure = { message: err instanceof Error ? err.message : String(err) };
  if (typeof e?.code === 'string') out.code = e.code;
  if (err instanceof CairnError) out.cairn = true;
  return out;
}

/** Rebuilds an error from the wire: a CairnError with its code, or an Error with `code`. */
export function fromWireFailure(w: WireFailure): Error {
  if (w.cairn && w.code) return new CairnError(w.code as ErrorCode, w.message);
  return Object.assign(new Error(w.message), w.code ? { code: w.code } : {});
}
