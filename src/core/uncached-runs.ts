/**
 * Uncached writes (uncached-file.ts) for a thread that must not block: restore's
 * calling thread, which also fetches chunks from S3 or HTTP. Each run of consecutive
 * bytes is written on its own: its whole blocks are copied into an aligned stage piece
 * by piece and written with `O_DIRECT` in the thread pool, and a block the run covers
 * only in part (at either end) goes through the cache. Two runs that meet mid-block
 * both write that block through the cache, so a block is written one way only (but
 * for a short uncached write that ends mid-block, which the kernel does not make in
 * practice: the rest of that block then goes cached).
 */
import { close, write } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  ALIGN,
  alignedBuffer,
  isUncachedRefusal,
  openUncachedTwin,
  refuseUncached,
  uncachedWritesOn,
} from './uncached-file.js';

const writeAt = promisify(write);
const closeFd = promisify(close);

/** WebAssembly pages (64 KiB) of one stage: 256 KiB, a whole number of blocks. */
const STAGE_PAGES = 4;

/** Spare stages of the calling thread, at most this many kept. */
const SPARE_STAGES = 8;
const spareStages: Uint8Array[] = [];

/** Where a file's whole blocks go uncached: its second descriptor and a stage. */
export interface UncachedRunTarget {
  /** The uncached descriptor. */
  fd: number;
  stage: Uint8Array;
  /** Bytes written uncached, and through the cache, so far (tests and diagnostics). */
  uncachedBytes: number;
  cachedBytes: number;
}

/**
 * Opens the file at `path`, open as `cached`, a second time for uncached writes (the
 * same file, never what a symlink put in its place: `openUncachedTwin`), with a stage;
 * undefined when uncached writes are off or refused here. The caller gives it back
 * with `closeUncachedRuns`.
 */
export function openUncachedRuns(
  path: string | Buffer,
  cached: FileHandle,
): UncachedRunTarget | undefined {
  if (!uncachedWritesOn()) return undefined;
  const stage = spareStages.pop() ?? alignedBuffer(STAGE_PAGES);
  if (!stage) return undefined;
  let fd: number | undefined;
  try {
    fd = openUncachedTwin(path, cached.fd);
  } finally {
    if (fd === undefined) giveBackStage(stage);
  }
  return fd === undefined ? undefined : { fd, stage, uncachedBytes: 0, cachedBytes: 0 };
}

/** Closes the uncached descriptor and keeps the stage for the next file. */
export async function closeUncachedRuns(target: UncachedRunTarget): Promise<void> {
  giveBackStage(target.stage);
  await closeFd(target.fd);
}

function giveBackStage(stage: Uint8Array): void {
  if (spareStages.length < SPARE_STAGES) spareStages.push(stage);
}

/**
 * Writes `parts`, one after another, at file offset `position`: whole blocks through
 * `target` (when given and still allowed), the rest through `cached`.
 */
export async function writeRun(
  cached: FileHandle,
  target: UncachedRunTarget | undefined,
  parts: readonly Uint8Array[],
  position: number,
): Promise<void> {
  let total = 0;
  for (const p of parts) total += p.length;
  const end = position + total;
  const headEnd = Math.min(end, Math.ceil(position / ALIGN) * ALIGN);
  const wholeEnd = Math.max(headEnd, end - (end % ALIGN));
  const run = new RunCursor(parts);
  await writeCached(cached, target, run, position, position, headEnd);
  let at = headEnd;
  while (target && at < wholeEnd && at % ALIGN === 0 && uncachedWritesOn()) {
    const n = Math.min(target.stage.length, wholeEnd - at);
    run.copyTo(target.stage, at - position, n);
    const written = await writeUncached(target, n, at);
    if (written === 0) break; // refused: the rest goes through the cache
    at += written;
  }
  await writeCached(cached, target, run, position, at, end);
}

/**
 * Writes stage[0, n) at `position` uncached; the bytes written (0 when the file system
 * refused; a short write that ends inside a block stops there, the rest goes cached).
 */
async function writeUncached(
  target: UncachedRunTarget,
  n: number,
  position: number,
): Promise<number> {
  let done = 0;
  try {
    while (done < n) {
      const { bytesWritten } = await writeAt(
        target.fd,
        target.stage,
        done,
        n - done,
        position + done,
      );
      if (bytesWritten === 0) break;
      done += bytesWritten;
      target.uncachedBytes += bytesWritten;
      if (done % ALIGN !== 0) break;
    }
  } catch (err) {
    if (!isUncachedRefusal(err)) throw err;
    refuseUncached();
  }
  return done;
}

/** Writes the bytes of `run` (which starts at file offset `runStart`) at [from, to). */
async function writeCached(
  fh: FileHandle,
  target: UncachedRunTarget | undefined,
  run: RunCursor,
  runStart: number,
  from: number,
  to: number,
): Promise<void> {
  for (const piece of run.slices(from - runStart, to - runStart)) {
    let done = 0;
    while (done < piece.bytes.length) {
      const { bytesWritten } = await fh.write(
        piece.bytes,
        done,
        piece.bytes.length - done,
        runStart + piece.offset + done,
      );
      done += bytesWritten;
    }
    if (target) target.cachedBytes += piece.bytes.length;
  }
}

/** Byte ranges of a run given as consecutive parts. */
class RunCursor {
  constructor(private readonly parts: readonly Uint8Array[]) {}

  /** The run's bytes [from, to) as views of its parts, with their offsets in the run. */
  *slices(from: number, to: number): Generator<{ offset: number; bytes: Uint8Array }> {
    let start = 0;
    for (const part of this.parts) {
      const partEnd = start + part.length;
      const a = Math.max(from, start);
      const b = Math.min(to, partEnd);
      if (a < b) yield { offset: a, bytes: part.subarray(a - start, b - start) };
      start = partEnd;
      if (start >= to) return;
    }
  }

  /** Copies the run's bytes [from, from + n) to the start of `into`. */
  copyTo(into: Uint8Array, from: number, n: number): void {
    for (const s of this.slices(from, from + n)) into.set(s.bytes, s.offset - from);
  }
}
