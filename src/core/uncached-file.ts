/**
 * Writing large files around the page cache (`O_DIRECT`), where the file system takes
 * it: restore's large files (`UncachedFileWriter`) and backup's chunk objects
 * (backends/uncached-objects.ts).
 *
 * Why: a page-cache page costs kernel time when it is first filled, and on virtual
 * machines whose memory the hypervisor backs on demand it costs a lot: here, writing
 * 1 GiB into one file took 2.7 s of system time through the cache and 0.4-0.6 s
 * around it (docs/performance.md). Neither backup nor restore reads back what it
 * writes, so the cache would only hold it for readers that may never come.
 *
 * Uncached writes need file offsets, lengths and memory aligned to the device's block.
 * ALIGN (4096) covers every common device, and WebAssembly memory (the stage) starts
 * on a page. So bytes are copied into a stage, their whole blocks are written
 * uncached, and a partial block at either end goes through an ordinary descriptor.
 * Uncached and cached writes never share a page, so the kernel never has to write back
 * or drop a cached page for an uncached write.
 *
 * Where the file system refuses `O_DIRECT` (tmpfs, some network and FUSE file systems)
 * or an aligned write, everything goes through the cache from then on, on this thread
 * (`refuseUncached`). `CAIRN_DIRECT_IO=0` turns uncached writes off.
 */
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';

/** Alignment of uncached writes: file offset, length and memory address. */
export const ALIGN = 4096;
/** Restored files smaller than this are written through the cache (a second open costs more). */
export const UNCACHED_MIN_BYTES = 1024 * 1024;
/** WebAssembly pages (64 KiB) of a restore's stage: 1 MiB and one page more. */
const STAGE_PAGES = 17;

let refused = process.env.CAIRN_DIRECT_IO === '0' || !('O_DIRECT' in constants);

/** True while uncached writes may be tried on this thread. */
export function uncachedWritesOn(): boolean {
  return !refused;
}

/** The file system refused an uncached open or write: no more tries on this thread. */
export function refuseUncached(): void {
  refused = true;
}

/** True for the error an uncached open or write fails with where it cannot be done. */
export function isUncachedRefusal(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'EINVAL';
}

/**
 * Opens the file that `cachedFd` is open on (at `path`) a second time, for uncached
 * writes; undefined where the file system refuses (then `refuseUncached` is in effect)
 * or where the second open would not reach the same file. Other errors are thrown.
 *
 * Not by `path` alone: someone who can write to the folder could replace the file by a
 * symlink between the two opens, and its bytes would go where the link points. Linux
 * reopens the descriptor itself through `/proc/self/fd`; elsewhere the path is opened
 * with `O_NOFOLLOW` and must be the same file (device and inode) as `cachedFd`.
 */
export function openUncachedTwin(path: string | Buffer, cachedFd: number): number | undefined {
  const flags = constants.O_WRONLY | constants.O_DIRECT;
  try {
    try {
      return openSync(`/proc/self/fd/${cachedFd}`, flags);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const fd = openSync(path, flags | constants.O_NOFOLLOW);
    const [a, b] = [fstatSync(fd), fstatSync(cachedFd)];
    if (a.dev === b.dev && a.ino === b.ino) return fd;
    closeSync(fd);
    return undefined;
  } catch (err) {
    if (!isUncachedRefusal(err)) throw err;
    refuseUncached();
    return undefined;
  }
}

/** The part of the WebAssembly global used here (@types/node 20 does not declare it). */
type WasmMemoryApi = { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } };

/**
 * An aligned buffer of `pages` × 64 KiB (WebAssembly memory begins on a page), or
 * undefined where there is no WebAssembly (`node --jitless`): then nothing is uncached.
 */
export function alignedBuffer(pages: number): Uint8Array | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmMemoryApi }).WebAssembly;
  try {
    return wasm && new Uint8Array(new wasm.Memory({ initial: pages }).buffer);
  } catch {
    return undefined; // no memory for it (a `ulimit -v`, say): the writes go cached
  }
}

/** A stage for `UncachedFileWriter` (see alignedBuffer). */
export function newStage(): Uint8Array | undefined {
  return alignedBuffer(STAGE_PAGES);
}

/**
 * Writes consecutive runs of one file (see the module comment). `cachedFd` is the
 * caller's descriptor and stays theirs; the writer opens, and `close` closes, its own
 * uncached one. Staged bytes are on disk only after `flush` (or a write that does not
 * continue the run before it).
 */
export class UncachedFileWriter {
  /** File offset of `stage[0]`, a multiple of ALIGN. */
  private base = 0;
  /** Staged bytes are `stage[from, end)`. */
  private from = 0;
  private end = 0;
  /** Bytes written uncached so far (for tests and diagnostics). */
  uncachedBytes = 0;

  private constructor(
    private readonly cachedFd: number,
    private directFd: number | undefined,
    private readonly stage: Uint8Array,
  ) {}

  /**
   * A writer for file `path`, already open as `cachedFd`; undefined when uncached writes
   * are off or refused here (the caller writes through `cachedFd` as usual).
   */
  static open(
    path: string | Buffer,
    cachedFd: number,
    stage: Uint8Array | undefined,
  ): UncachedFileWriter | undefined {
    if (refused || !stage) return undefined;
    const fd = openUncachedTwin(path, cachedFd);
    return fd === undefined ? undefined : new UncachedFileWriter(cachedFd, fd, stage);
  }

  /** Writes the bytes of `parts`, one after another, at `position`. */
  write(parts: readonly Uint8Array[], position: number): void {
    if (this.end > this.from && position !== this.base + this.end) this.flush();
    if (this.end === this.from) {
      this.from = position % ALIGN;
      this.end = this.from;
      this.base = position - this.from;
    }
    for (const part of parts) {
      let at = 0;
      while (at < part.length) {
        if (this.end === this.stage.length) this.spill();
        const n = Math.min(part.length - at, this.stage.length - this.end);
        this.stage.set(part.subarray(at, at + n), this.end);
        this.end += n;
        at += n;
      }
    }
  }

  /** Writes everything staged. */
  flush(): void {
    this.writeStaged(this.from, this.end);
    this.from = 0;
    this.end = 0;
  }

  /** Closes the uncached descriptor (not the caller's); staged bytes not flushed are dropped. */
  close(): void {
    if (this.directFd !== undefined) closeSync(this.directFd);
    this.directFd = undefined;
  }

  /** The stage is full (a whole number of blocks): write it and start again at its head. */
  private spill(): void {
    this.writeStaged(this.from, this.end);
    this.base += this.end;
    this.from = 0;
    this.end = 0;
  }

  /** Writes `stage[from, to)`: whole blocks uncached, a partial block at either end cached. */
  private writeStaged(from: number, to: number): void {
    if (to <= from) return;
    const headEnd = Math.min(to, Math.ceil(from / ALIGN) * ALIGN);
    const wholeEnd = Math.max(headEnd, to - (to % ALIGN));
    writeAllSync(this.cachedFd, this.stage, from, headEnd, this.base);
    if (wholeEnd > headEnd) this.writeUncached(headEnd, wholeEnd);
    writeAllSync(this.cachedFd, this.stage, wholeEnd, to, this.base);
  }

  private writeUncached(from: number, to: number): void {
    let at = from;
    try {
      // A short write ends on a block boundary in practice; if not, the rest goes cached.
      while (at < to && this.directFd !== undefined && at % ALIGN === 0) {
        const n = writeSync(this.directFd, this.stage, at, to - at, this.base + at);
        if (n === 0) break;
        at += n;
        this.uncachedBytes += n;
      }
    } catch (err) {
      // The device wants a coarser alignment than ALIGN. Nothing was written.
      if (!isUncachedRefusal(err)) throw err;
      refuseUncached();
      this.close();
    }
    writeAllSync(this.cachedFd, this.stage, at, to, this.base);
  }
}

/** Writes `buf[from, to)` at file offset `base + from`. */
export function writeAllSync(
  fd: number,
  buf: Uint8Array,
  from: number,
  to: number,
  base: number,
): void {
  for (let at = from; at < to; ) at += writeSync(fd, buf, at, to - at, base + at);
}
