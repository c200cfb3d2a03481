/**
 * The jobs restore runs on its worker threads (restore-pool.ts): writing a batch of
 * small files whose content came in the tree, and rebuilding one chunked file from a
 * local repository. Everything here is synchronous system calls (cheap when data is in
 * the page cache, and on a worker they block nobody), and the same code runs on the
 * calling thread when there are no workers.
 *
 * Every object read from the repository is opened through the repository's codec and
 * its plaintext hashed and compared with its id before any byte of it is written, and
 * only to a temporary file, renamed into place when complete, or at its name in a
 * staged directory (see restore-fs.ts).
 */
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  ftruncateSync,
  futimesSync,
  openSync,
  readSync,
  renameSync,
} from 'node:fs';
import { errnoCode, fsError } from '../backends/fs-errors.js';
import { LocalBackend } from '../backends/local.js';
import { DirRef } from '../core/deep-path.js';
import { AbortedError, IntegrityError, NotFoundError } from '../core/errors.js';
import { isRoot } from '../core/process.js';
import { newStage, UNCACHED_MIN_BYTES, UncachedFileWriter } from '../core/uncached-file.js';
import { isAllZero } from '../core/zeros.js';
import { MAX_OBJECT_BYTES, type ObjectCodec } from '../repo/codec.js';
import { codecFromSetup } from '../repo/codec-setup.js';
import { blobKey } from '../repo/layout.js';
import {
  removeQuietly,
  tempChild,
  utimeArg,
  writeSmallFileSync,
  writevAllSync,
} from './restore-fs.js';
import {
  type FileJob,
  type FromRestoreWorker,
  type RestoreWorkerSetup,
  SMALL_META_FIELDS,
  type SmallFilesJob,
  toWireFailure,
} from './restore-protocol.js';
import { setNewXattrs } from './restore-xattrs.js';

/** The answer to a batch of small files. */
type SmallFilesDone = Extract<FromRestoreWorker, { type: 'small-done' }>;

/** Bytes of consecutive chunks written with one call. */
const WRITE_BATCH_BYTES = 1024 * 1024;
/**
 * Objects are read into one reused buffer of this size (a fresh buffer per object costs
 * an allocation, page faults and garbage collection); a batch is written before the
 * buffer is reused. Larger objects get a buffer of their own.
 */
const ARENA_BYTES = 4 * 1024 * 1024;

/** Runs restore jobs for one repository; see the module comment. */
export class RestoreJobRunner {
  private readonly codec: ObjectCodec;
  private readonly backend: LocalBackend;
  private readonly abortFlag: Int32Array;
  /** Ids of chunks seen to be all zeros (left as holes without reading them again). */
  private readonly zeroChunks = new Set<string>();
  /** See ARENA_BYTES (allocated on the first chunked file); `arenaAt`: the next free byte. */
  private arena: Buffer | undefined;
  private arenaAt = 0;
  /** The aligned stage of uncached writes (uncached-file.ts), made for the first large file. */
  private stage: Uint8Array | undefined;

  constructor(setup: RestoreWorkerSetup) {
    this.codec = codecFromSetup(setup);
    this.backend = new LocalBackend(setup.root);
    this.abortFlag = new Int32Array(setup.abort);
  }

  /** Runs `job`, reporting through `post`; never throws (failures are messages). */
  async run(
    job: SmallFilesJob | FileJob,
    post: (message: FromRestoreWorker, transfer?: ArrayBuffer[]) => void,
  ): Promise<void> {
    try {
      if (job.type === 'small') {
        const failed = this.smallFiles(job);
        // The content buffer goes back to be filled again (see RestorePool.smallFiles).
        const spare = job.data.buffer as ArrayBuffer;
        post({ type: 'small-done', task: job.task, failed, spare }, [spare]);
      } else {
        const done = await this.file(job, (bytes) =>
          post({ type: 'progress', task: job.task, bytes }),
        );
        post({ type: 'file-done', task: job.task, ...done });
      }
    } catch (err) {
      post({ type: 'error', task: job.task, error: toWireFailure(err) });
    }
  }

  private checkAborted(): void {
    if (Atomics.load(this.abortFlag, 0) !== 0) throw new AbortedError();
  }

  /** Writes a batch of small files; the failures, by index. */
  smallFiles(job: SmallFilesJob): SmallFilesDone['failed'] {
    const failed: SmallFilesDone['failed'] = [];
    const xattrs = job.xattrs && new Map(job.xattrs);
    let d: DirRef;
    try {
      d = DirRef.open(job.dir);
    } catch (err) {
      const error = toWireFailure(err);
      return job.names.map((_n, index) => ({ index, error }));
    }
    try {
      for (let i = 0; i < job.names.length; i++) {
        this.checkAborted();
        const m = i * SMALL_META_FIELDS;
        const at = job.meta[m + 5]!;
        const length = job.meta[m + 6]!;
        try {
          const list = xattrs?.get(i);
          const problem = writeSmallFileSync(
            {
              name: job.names[i]!,
              mode: job.meta[m]!,
              uid: job.meta[m + 1]!,
              gid: job.meta[m + 2]!,
              mtime: { sec: job.meta[m + 3]!, nsec: job.meta[m + 4]! },
              inline: job.data.subarray(at, at + length),
              ...(list ? { xattrs: list } : {}),
            },
            d,
            job.owner,
            job.staged,
          );
          if (problem) failed.push({ index: i, error: { message: problem }, written: true });
        } catch (err) {
          failed.push({ index: i, error: toWireFailure(err) });
        }
      }
    } finally {
      d.close();
    }
    return failed;
  }

  /**
   * Rebuilds one chunked file under a temporary name in its directory, then renames it
   * (at its name directly in a staged directory). All-zero chunks are left as holes.
   * `progress` gets the bytes written so far.
   */
  async file(
    job: FileJob,
    progress: (bytes: number) => void,
  ): Promise<{ fetched: number; reused: number; xattrProblem?: string }> {
    let fetched = 0;
    let xattrProblem: string | undefined;
    let reused = 0;
    this.arenaAt = 0;
    const d = DirRef.open(job.dir);
    try {
      const final = d.child(job.name);
      const tmp = job.staged ? final : tempChild(d);
      let fd: number | undefined = openSync(tmp, 'wx', 0o600);
      let wroteAny = false;
      let uncached: UncachedFileWriter | undefined;
      try {
        if (job.size >= UNCACHED_MIN_BYTES) {
          this.stage ??= newStage();
          uncached = UncachedFileWriter.open(tmp, fd, this.stage);
        }
        let offset = 0;
        let batch: Uint8Array[] = [];
        let batchAt = 0;
        let batchBytes = 0;
        const flush = (): void => {
          // Nothing in the batch refers to the arena any more once it is written (or
          // copied into the stage).
          this.arenaAt = 0;
          if (batchBytes === 0) return;
          if (uncached) uncached.write(batch, batchAt);
          else writevAllSync(fd!, batch, batchAt);
          wroteAny = true;
          batch = [];
          batchBytes = 0;
          progress(offset);
        };
        for (let i = 0; i < job.ids.length; i++) {
          this.checkAborted();
          const id = job.ids[i]!;
          const size = job.sizes[i]!;
          if (this.zeroChunks.has(id)) {
            reused += size;
            flush();
          } else {
            const data = await this.chunk(id, size, flush);
            fetched += size;
            if (isAllZero(data)) {
              this.zeroChunks.add(id);
              flush();
            } else {
              if (batchBytes === 0) batchAt = offset;
              batch.push(data);
              batchBytes += size;
              if (batchBytes >= WRITE_BATCH_BYTES) {
                offset += size;
                flush();
                continue;
              }
            }
          }
          offset += size;
        }
        flush();
        uncached?.flush();
        // Extends the file over trailing holes to its size.
        ftruncateSync(fd, job.size);
        // chown before chmod: a chown clears set-user-ID and set-group-ID bits.
        if (isRoot) fchownSync(fd, job.uid, job.gid);
        // After chown, which clears capabilities; before chmod (see restore-xattrs.ts).
        xattrProblem = setNewXattrs(fd, job.xattrs);
        fchmodSync(fd, job.mode);
        const t = utimeArg(job.mtime);
        futimesSync(fd, t, t);
        closeSync(fd);
        fd = undefined;
        if (!job.staged) renameSync(tmp, final);
      } catch (err) {
        const keep = err instanceof AbortedError && wroteAny;
        if (keep) flushQuietly(uncached);
        if (fd !== undefined) closeSync(fd);
        // Stopped (Ctrl-C) with chunks written: the file stays under its temporary name,
        // and the next restore into this target reuses them, as after a kill. Any other
        // failure removes it.
        if (!keep) removeQuietly(tmp);
        throw err;
      } finally {
        uncached?.close();
      }
    } finally {
      d.close();
    }
    return xattrProblem ? { fetched, reused, xattrProblem } : { fetched, reused };
  }

  /**
   * The verified plaintext of data blob `id`, which the tree says holds `size` bytes
   * (it may be a view of the arena: `flush` writes what the arena holds, to make room).
   */
  private async chunk(id: string, size: number, flush: () => void): Promise<Uint8Array> {
    const key = blobKey('data', id);
    const file = this.backend.pathOf(key);
    let stored: Uint8Array;
    try {
      stored = this.readObject(file, flush);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
        throw new NotFoundError(key, `data blob ${id} is missing from the repository`);
      }
      throw fsError(err, 'get', key, file);
    }
    const data = await this.codec.openVerified(
      stored,
      id,
      `data blob ${id}`,
      MAX_OBJECT_BYTES,
      this.arenaPlace,
    );
    if (data.length !== size) {
      throw new IntegrityError(
        id,
        `data blob ${id} holds ${data.length} bytes, the tree says ${size}`,
      );
    }
    return data;
  }

  /**
   * Room for a decompressed chunk in the arena after the bytes read, when it fits (never
   * a flush here: the frame being decoded may sit at the arena's start). Space taken is
   * free again at the next flush, like the stored bytes before it.
   */
  private readonly arenaPlace = (size: number): Uint8Array | undefined => {
    if (!this.arena || this.arenaAt + size > ARENA_BYTES) return undefined;
    const place = this.arena.subarray(this.arenaAt, this.arenaAt + size);
    this.arenaAt += size;
    return place;
  };

  /** The whole file `file`, read into the arena when it fits (see ARENA_BYTES). */
  private readObject(file: string, flush: () => void): Uint8Array {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      let out: Buffer;
      if (size > ARENA_BYTES) out = Buffer.allocUnsafe(size);
      else {
        if (this.arenaAt + size > ARENA_BYTES) flush();
        this.arena ??= Buffer.allocUnsafe(ARENA_BYTES);
        out = this.arena.subarray(this.arenaAt, this.arenaAt + size);
      }
      let done = 0;
      while (done < size) {
        const n = readSync(fd, out, done, size - done, done);
        if (n === 0) break; // shorter than fstat said: the hash check will refuse it
        done += n;
      }
      if (out.buffer === this.arena?.buffer) this.arenaAt += done;
      return out.subarray(0, done);
    } finally {
      closeSync(fd);
    }
  }
}

/** Writes what `writer` holds, if it can: a stopped restore keeps what it got. */
function flushQuietly(writer: UncachedFileWriter | undefined): void {
  try {
    writer?.flush();
  } catch {
    // the partial file stays as it is; the next restore checks every chunk of it
  }
}
