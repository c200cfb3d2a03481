/**
 * Page buffers handed back are reused for later pages: the smallest fitting one that is
 * at most twice the size, sizes rounded so that one fits the next page of about its
 * size, small ones neither kept nor given, and when full a larger buffer takes the
 * place of smaller ones only if that makes room.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  dropPageBuffers,
  givePageBuffer,
  takePageBuffer,
} from '../../src/manifest/page-buffers.js';
import { LeafBuilder } from '../../src/manifest/tree-codec.js';

const KiB = 1024;
const MiB = 1024 * KiB;

afterEach(() => dropPageBuffers());

describe('page buffers', () => {
  it('gives the smallest spare that fits and is at most twice the size', () => {
    const large = new ArrayBuffer(1024 * KiB);
    const medium = new ArrayBuffer(384 * KiB);
    givePageBuffer(large);
    givePageBuffer(medium);
    expect(takePageBuffer(300 * KiB).buffer).toBe(medium);
    // 1 MiB is more than twice 384 KiB (300 KiB rounded up to a multiple of 128 KiB).
    const fresh = takePageBuffer(300 * KiB);
    expect(fresh.buffer).not.toBe(large);
    expect(fresh.length).toBe(384 * KiB);
    expect(takePageBuffer(600 * KiB).buffer).toBe(large);
  });

  it('neither keeps small buffers nor gives spares for small pages', () => {
    givePageBuffer(new ArrayBuffer(16 * KiB));
    expect(takePageBuffer(10 * KiB).length).toBe(10 * KiB);
    const spare = new ArrayBuffer(128 * KiB);
    givePageBuffer(spare);
    expect(takePageBuffer(4 * KiB).buffer).not.toBe(spare);
    expect(takePageBuffer(100 * KiB).buffer).toBe(spare);
  });

  it('when full, keeps a larger buffer in place of smaller ones', () => {
    const kept = Array.from({ length: 16 }, () => new ArrayBuffer(128 * KiB));
    for (const b of kept) givePageBuffer(b);
    const larger = new ArrayBuffer(256 * KiB);
    givePageBuffer(larger);
    givePageBuffer(new ArrayBuffer(64 * KiB)); // smaller than every kept one: dropped
    expect(takePageBuffer(200 * KiB).buffer).toBe(larger);
    const rest = Array.from({ length: 15 }, () => takePageBuffer(100 * KiB).buffer);
    expect(new Set(rest).size).toBe(15);
    for (const b of rest) expect(kept).toContain(b);
    expect(kept).not.toContain(takePageBuffer(100 * KiB).buffer);
  });

  it('evicts nothing for a buffer it cannot keep, and enough for one it can', () => {
    const kept = Array.from({ length: 16 }, () => new ArrayBuffer(MiB));
    for (const b of kept) givePageBuffer(b);
    givePageBuffer(new ArrayBuffer(17 * MiB)); // over the limit on its own
    givePageBuffer(new ArrayBuffer(MiB)); // no smaller one to make room
    const three = new ArrayBuffer(3 * MiB);
    givePageBuffer(three); // three of 1 MiB make room
    expect(takePageBuffer(3 * MiB - 1000).buffer).toBe(three);
    const rest = new Set(Array.from({ length: 14 }, () => takePageBuffer(MiB - 1000).buffer));
    expect([...rest].filter((b) => kept.includes(b as ArrayBuffer))).toHaveLength(13);
  });

  it('is what a leaf builder fills', () => {
    const spare = new ArrayBuffer(256 * KiB);
    givePageBuffer(spare);
    const builder = new LeafBuilder(100 * KiB);
    builder.add(new Uint8Array(200 * KiB).fill(1));
    expect(builder.finish().buffer).toBe(spare);
  });
});
