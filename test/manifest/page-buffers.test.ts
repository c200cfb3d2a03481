/**
 * Page buffers handed back are reused for later pages: the best fitting one, sizes
 * rounded so that one fits the next page of about its size, small ones not kept, and
 * when full a larger buffer takes the smallest one's place.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  dropPageBuffers,
  givePageBuffer,
  takePageBuffer,
} from '../../src/manifest/page-buffers.js';
import { LeafBuilder } from '../../src/manifest/tree-codec.js';

const KiB = 1024;

afterEach(() => dropPageBuffers());

describe('page buffers', () => {
  it('gives a buffer handed back to the next page that fits, the smallest that does', () => {
    const large = new ArrayBuffer(1024 * KiB);
    const medium = new ArrayBuffer(384 * KiB);
    givePageBuffer(large);
    givePageBuffer(medium);
    expect(takePageBuffer(300 * KiB).buffer).toBe(medium);
    expect(takePageBuffer(300 * KiB).buffer).toBe(large);
    // None left: a new one, its size rounded up to a multiple of 128 KiB.
    const fresh = takePageBuffer(300 * KiB);
    expect(fresh.buffer).not.toBe(large);
    expect(fresh.length).toBe(384 * KiB);
  });

  it('does not keep small buffers, nor round small sizes', () => {
    givePageBuffer(new ArrayBuffer(16 * KiB));
    const small = takePageBuffer(10 * KiB);
    expect(small.length).toBe(10 * KiB);
  });

  it('keeps the largest buffers when full', () => {
    const kept = Array.from({ length: 16 }, () => new ArrayBuffer(128 * KiB));
    for (const b of kept) givePageBuffer(b);
    const larger = new ArrayBuffer(512 * KiB);
    givePageBuffer(larger);
    givePageBuffer(new ArrayBuffer(64 * KiB)); // smaller than every kept one: dropped
    expect(takePageBuffer(200 * KiB).buffer).toBe(larger);
    const rest = Array.from({ length: 15 }, () => takePageBuffer(100 * KiB).buffer);
    expect(new Set(rest).size).toBe(15);
    for (const b of rest) expect(kept).toContain(b);
    expect(kept).not.toContain(takePageBuffer(100 * KiB).buffer);
  });

  it('is what a leaf builder fills, and a builder gives back the buffer it outgrows', () => {
    const spare = new ArrayBuffer(256 * KiB);
    givePageBuffer(spare);
    const builder = new LeafBuilder(100 * KiB);
    builder.add(new Uint8Array(200 * KiB).fill(1));
    expect(builder.finish().buffer).toBe(spare);
    const growing = new LeafBuilder(100 * KiB);
    growing.add(new Uint8Array(90 * KiB).fill(2));
    const first = growing.finish().buffer;
    const grown = new LeafBuilder(100 * KiB);
    grown.add(new Uint8Array(90 * KiB));
    const before = (grown as unknown as { buffer: Buffer }).buffer.buffer;
    grown.add(new Uint8Array(90 * KiB)); // outgrows its buffer, which is kept
    expect(takePageBuffer(64 * KiB).buffer).toBe(before);
    expect(first).not.toBe(before);
  });
});
