/**
 * Buffers for tree pages (LeafBuilder), reused during a backup: a page built on the
 * main thread moves to a chunk worker to be sealed and written, and its buffer comes
 * back afterwards (ChunkPool's `onSpareBuffer`, wired by ops/backup.ts) to hold a later
 * page. A new buffer per page, freed on the worker, left the main thread's malloc
 * arena holding memory it could not give back (pages are 64 KiB-1 MiB with the default
 * paging, under glibc's raised mmap threshold). Only buffers nothing else uses may be
 * given: ones handed back by the thread they were moved to.
 */
import { SpareBuffers } from '../core/spare-buffers.js';

/** Buffers kept at most, and their bytes at most. */
const MAX_SPARES = 16;
const MAX_SPARE_BYTES = 16 * 1024 * 1024;
/**
 * Smaller requests get a new buffer, and smaller buffers are not kept: malloc serves
 * them from its bins, and they would take the places of the large ones.
 */
const MIN_SPARE_BYTES = 64 * 1024;
/**
 * Larger sizes are rounded up to a multiple of this, so that a buffer handed back fits
 * the next page of about its size (a directory's pages start as large as its largest).
 */
const SIZE_STEP = 128 * 1024;

const spares = new SpareBuffers(MAX_SPARES, MAX_SPARE_BYTES);

/**
 * A buffer of at least `size` bytes (contents undefined): the smallest spare that fits
 * and is at most twice the size, else a new one.
 */
export function takePageBuffer(size: number): Buffer {
  if (size < MIN_SPARE_BYTES) return Buffer.allocUnsafeSlow(size);
  const rounded = Math.ceil(size / SIZE_STEP) * SIZE_STEP;
  const spare = spares.take(size, 2 * rounded);
  return spare ? Buffer.from(spare) : Buffer.allocUnsafeSlow(rounded);
}

/**
 * Keeps `buffer` for a later page; when full, in place of smaller ones if that makes
 * room. Only for a buffer nothing else uses any more.
 */
export function givePageBuffer(buffer: ArrayBuffer): void {
  if (buffer.byteLength >= MIN_SPARE_BYTES) spares.keep(buffer);
}

/** Drops the spare buffers (the end of a backup). */
export function dropPageBuffers(): void {
  spares.clear();
}
