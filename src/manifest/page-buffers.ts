/**
 * Buffers for tree pages (LeafBuilder), reused: a page built on the main thread moves
 * to a chunk worker to be sealed and written, and its buffer comes back afterwards
 * (ChunkPool's `onSpareBuffer`) to hold a later page. A new buffer per page, freed on
 * the worker, left the main thread's malloc arena holding memory it could not give back
 * (pages are 64 KiB-1 MiB, under glibc's raised mmap threshold).
 */

/** Buffers kept at most, and their bytes at most. */
const MAX_SPARES = 16;
const MAX_SPARE_BYTES = 16 * 1024 * 1024;
/**
 * Smaller buffers are not kept (nor rounded): malloc serves them from its bins, and
 * they would take the places of the large ones.
 */
const MIN_SPARE_BYTES = 64 * 1024;
/**
 * Larger sizes are rounded up to a multiple of this, so that a buffer handed back fits
 * the next page of about its size (a directory's pages start as large as its largest).
 */
const SIZE_STEP = 128 * 1024;

const spares: ArrayBuffer[] = [];
let spareBytes = 0;

/** A buffer of at least `size` bytes (contents undefined): a spare one if one fits. */
export function takePageBuffer(size: number): Buffer {
  let best = -1;
  for (let i = 0; i < spares.length; i++) {
    const length = spares[i]!.byteLength;
    if (length >= size && (best < 0 || length < spares[best]!.byteLength)) best = i;
  }
  if (best < 0) {
    const rounded = size < MIN_SPARE_BYTES ? size : Math.ceil(size / SIZE_STEP) * SIZE_STEP;
    return Buffer.allocUnsafeSlow(rounded);
  }
  const [buffer] = spares.splice(best, 1);
  spareBytes -= buffer!.byteLength;
  return Buffer.from(buffer!);
}

/**
 * Keeps `buffer` for a later page. Only for a buffer nothing else uses any more: one
 * handed back by the thread it was moved to, or a builder's own that it outgrew.
 */
export function givePageBuffer(buffer: ArrayBuffer): void {
  if (buffer.byteLength < MIN_SPARE_BYTES) return;
  // When full, a larger buffer takes the place of the smallest.
  while (spares.length >= MAX_SPARES || spareBytes + buffer.byteLength > MAX_SPARE_BYTES) {
    let smallest = -1;
    for (let i = 0; i < spares.length; i++) {
      if (smallest < 0 || spares[i]!.byteLength < spares[smallest]!.byteLength) smallest = i;
    }
    if (smallest < 0 || spares[smallest]!.byteLength >= buffer.byteLength) return;
    spareBytes -= spares[smallest]!.byteLength;
    spares.splice(smallest, 1);
  }
  spares.push(buffer);
  spareBytes += buffer.byteLength;
}

/** Drops the spare buffers (tests; the end of a backup). */
export function dropPageBuffers(): void {
  spares.length = 0;
  spareBytes = 0;
}
