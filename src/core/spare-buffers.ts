/**
 * Buffers kept for reuse after another thread handed them back: the slabs of sealed
 * chunks (repo/chunk-serve.ts) and tree page buffers (manifest/page-buffers.ts). A
 * buffer allocated on one thread and freed on another leaves malloc's arenas holding
 * memory they cannot give back; kept and reused, it is allocated once.
 */
export class SpareBuffers {
  private readonly kept: ArrayBuffer[] = [];
  private bytes = 0;

  /** At most `maxCount` buffers and `maxBytes` bytes are kept. */
  constructor(
    private readonly maxCount: number,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** The smallest kept buffer of `min` to `max` bytes, no longer kept; or undefined. */
  take(min: number, max = Number.POSITIVE_INFINITY): ArrayBuffer | undefined {
    let best = -1;
    for (let i = 0; i < this.kept.length; i++) {
      const length = this.kept[i]!.byteLength;
      if (length < min || length > max) continue;
      if (best < 0 || length < this.kept[best]!.byteLength) best = i;
    }
    if (best < 0) return undefined;
    const [buffer] = this.kept.splice(best, 1);
    this.bytes -= buffer!.byteLength;
    return buffer;
  }

  /**
   * Keeps `buffer` (one nothing else uses any more); when full, in place of smaller
   * ones if that makes room, else not at all.
   */
  keep(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    if (size > this.maxBytes) return;
    // The smaller buffers, smallest first, that would have to go to make room.
    const smaller = this.kept
      .filter((b) => b.byteLength < size)
      .sort((x, y) => x.byteLength - y.byteLength);
    let count = this.kept.length;
    let bytes = this.bytes;
    let evict = 0;
    while (count >= this.maxCount || bytes + size > this.maxBytes) {
      const next = smaller[evict];
      if (!next) return;
      count--;
      bytes -= next.byteLength;
      evict++;
    }
    const gone = new Set(smaller.slice(0, evict));
    for (let i = this.kept.length - 1; i >= 0; i--) {
      if (gone.has(this.kept[i]!)) this.kept.splice(i, 1);
    }
    this.kept.push(buffer);
    this.bytes = bytes + size;
  }

  /** Lets every kept buffer go. */
  clear(): void {
    this.kept.length = 0;
    this.bytes = 0;
  }
}
