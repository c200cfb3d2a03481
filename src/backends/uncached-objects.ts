/**
 * Uncached writes of whole objects for LocalDirectWriter's group commits: the object's
 * whole blocks are copied into a ring of aligned memory and written with `O_DIRECT`
 * in the thread pool, its last partial block at once through the cache (see
 * core/uncached-file.ts for why and how).
 *
 * Asynchronous because an uncached write returns only once the device has the bytes:
 * written synchronously, one object after another, a chunk worker of the fresh 2 GiB
 * backup spent 3.6 s of its 5.6 s waiting (docs/performance.md). In the thread pool
 * the waits overlap each other and the worker's next window. The ring bounds the bytes
 * in flight: a producer waits for `room` before a batch while it is more than half full
 * (the device is behind), and an object that still finds no room goes through the
 * cache, so `start` itself never waits.
 */
import { closeSync, write } from 'node:fs';
import {
  ALIGN,
  alignedBuffer,
  isUncachedRefusal,
  openUncachedTwin,
  refuseUncached,
  uncachedWritesOn,
  writeAllSync,
} from '../core/uncached-file.js';

/** Objects smaller than this are written through the cache (a second open costs more). */
export const UNCACHED_OBJECT_MIN_BYTES = 64 * 1024;
/** The ring, in WebAssembly pages of 64 KiB: 4 MiB. */
const RING_PAGES = 64;

interface Slot {
  start: number;
  end: number;
  done: boolean;
}

/** See the module comment. One per writer thread. */
export class UncachedObjectWrites {
  private ring: Uint8Array | undefined;
  /** Slots in allocation order; the ring's used part runs from the first to `tail`. */
  private readonly slots: Slot[] = [];
  private tail = 0;
  private readonly inFlight = new Set<Promise<void>>();
  /** Bytes of the ring taken by writes under way. */
  private ringBytes = 0;
  /** Callers of `room` waiting for the ring to drain to half. */
  private waiting: (() => void)[] = [];
  /** Objects whose whole blocks went uncached (for tests and diagnostics). */
  uncachedObjects = 0;

  /**
   * Writes `parts` (`total` bytes) into the new file `path`, open as `cachedFd`: the
   * partial last block at once, the rest uncached in the background; resolves when all
   * is written and `cachedFd` closed (it is this writer's from then on). Undefined, with
   * nothing written and `cachedFd` still the caller's, when the object is to go through
   * the cache (small, no room in the ring, or uncached writes refused here).
   */
  start(
    path: string,
    cachedFd: number,
    parts: readonly Uint8Array[],
    total: number,
  ): Promise<void> | undefined {
    if (total < UNCACHED_OBJECT_MIN_BYTES || !uncachedWritesOn()) return undefined;
    this.ring ??= alignedBuffer(RING_PAGES);
    if (!this.ring) return undefined;
    const room = Math.ceil(total / ALIGN) * ALIGN;
    const slot = this.reserve(room);
    if (!slot) return undefined;
    const ring = this.ring;
    const whole = total - (total % ALIGN);
    let fd: number | undefined;
    try {
      fd = openUncachedTwin(path, cachedFd);
      if (fd === undefined) {
        this.release(slot);
        return undefined;
      }
      let at = slot.start;
      for (const part of parts) {
        ring.set(part, at);
        at += part.length;
      }
      // The partial last block, cached (file offsets are ring offsets less slot.start).
      writeAllSync(cachedFd, ring, slot.start + whole, slot.start + total, -slot.start);
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      this.release(slot);
      throw err;
    }
    this.uncachedObjects++;
    const written = this.writeUncached(fd, slot, whole, cachedFd);
    this.inFlight.add(written);
    written.then(
      () => this.inFlight.delete(written),
      () => this.inFlight.delete(written),
    );
    return written;
  }

  /**
   * Undefined when the ring is at most half full, else a promise that resolves once it
   * is: a producer that waits here before its next batch keeps its objects uncached
   * instead of sending them through the cache for want of room.
   */
  room(): Promise<void> | undefined {
    if (this.halfFree) return undefined;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** True while at most half the ring is taken (or there is no ring yet). */
  private get halfFree(): boolean {
    return !this.ring || this.ringBytes <= this.ring.length / 2;
  }

  /** Resolves once every write started so far has finished (or failed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Writes the slot's first `whole` bytes at offset 0 of `fd`, closes both descriptors
   * and frees the slot. A file system that refuses the write gets it through `cachedFd`.
   */
  private writeUncached(fd: number, slot: Slot, whole: number, cachedFd: number): Promise<void> {
    const ring = this.ring!;
    return new Promise<void>((resolve, reject) => {
      const step = (done: number): void => {
        if (done >= whole) {
          finish();
          return;
        }
        write(fd, ring, slot.start + done, whole - done, done, (err, n) => {
          if (err && !isUncachedRefusal(err)) finish(err);
          else if (err) {
            refuseUncached();
            cached(done);
          }
          // A short write that ends inside a block: the rest goes through the cache.
          else if (n === 0 || (done + n) % ALIGN !== 0) cached(done + n);
          else step(done + n);
        });
      };
      const cached = (from: number): void => {
        try {
          writeAllSync(cachedFd, ring, slot.start + from, slot.start + whole, -slot.start);
          finish();
        } catch (err) {
          finish(err);
        }
      };
      const finish = (failure?: unknown): void => {
        let err = failure;
        for (const d of [fd, cachedFd]) {
          try {
            closeSync(d);
          } catch (closing) {
            err ??= closing;
          }
        }
        this.release(slot);
        if (err) reject(err);
        else resolve();
      };
      step(0);
    });
  }

  /** Room for `bytes` in the ring (a multiple of ALIGN), or undefined if it is full. */
  private reserve(bytes: number): Slot | undefined {
    const capacity = this.ring!.length;
    if (this.slots.length === 0) this.tail = 0;
    const head = this.slots[0]?.start ?? 0;
    let start: number | undefined;
    if (this.slots.length === 0 || this.tail > head) {
      // Used: [head, tail). Free: [tail, capacity) and [0, head).
      if (capacity - this.tail >= bytes) start = this.tail;
      else if (head > bytes) start = 0;
    } else if (head - this.tail > bytes) {
      // Wrapped. Free: [tail, head), kept from filling up so full never looks empty.
      start = this.tail;
    }
    if (start === undefined) return undefined;
    const slot = { start, end: start + bytes, done: false };
    this.ringBytes += bytes;
    this.slots.push(slot);
    this.tail = slot.end;
    return slot;
  }

  private release(slot: Slot): void {
    slot.done = true;
    this.ringBytes -= slot.end - slot.start;
    while (this.slots[0]?.done) this.slots.shift();
    // Not through `room`, which would queue a waiter of its own.
    if (this.waiting.length > 0 && this.halfFree) {
      for (const wake of this.waiting.splice(0)) wake();
    }
  }
}
