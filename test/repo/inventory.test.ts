/**
 * The blob inventory: filled by one listing, kept current by this client's writes,
 * still correct when another client writes, bounded in memory, one process per slot.
 */
import { describe, expect, it } from 'vitest';
import { CountingBackend } from '../../src/backends/counting.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { AbortedError } from '../../src/core/errors.js';
import { sha256Hex } from '../../src/core/ids.js';
import { BlobStore } from '../../src/repo/blob-store.js';
import { BlobInventory } from '../../src/repo/inventory.js';
import { blobKey } from '../../src/repo/layout.js';
import { LruMap } from '../../src/repo/lru.js';
import {
  initRepository,
  isRemoteBackend,
  openRepositoryIn,
  type Repository,
} from '../../src/repo/repository.js';
import { tempDir } from '../helpers/fs.js';
import { TINY_CHUNKS } from '../helpers/repo.js';

const bytes = (i: number) => new TextEncoder().encode(`blob number ${i}`);

/** A memory repository (with `n` data blobs) and a counting view of its backend. */
async function setup(n = 20) {
  const base = new MemoryBackend();
  const writer = await initRepository(base, { chunker: TINY_CHUNKS }, { inventory: 'off' });
  for (let i = 0; i < n; i++) await writer.blobs.put('data', bytes(i));
  await writer.blobs.put('tree', bytes(-1));
  const counting = new CountingBackend(base);
  const cacheDir = await tempDir('cairn-inv-');
  const open = (options: { maxAgeMs?: number } = {}) =>
    openRepositoryIn(counting, {
      inventory: 'on',
      cacheDir,
      ...(options.maxAgeMs !== undefined ? { inventoryMaxAgeMs: options.maxAgeMs } : {}),
    });
  return { base, counting, cacheDir, open, writer };
}

/** Closes the inventory only (the memory backend must stay usable). */
async function closeInventory(repo: Repository): Promise<void> {
  await repo.inventory?.close();
}

describe('blob inventory', () => {
  it('is filled by one listing, then answers without asking the backend', async () => {
    const { counting, open } = await setup(20);
    const repo = await open();
    counting.reset();
    for (let i = 0; i < 20; i++) {
      expect(await repo.blobs.has('data', sha256Hex(bytes(i)))).toBe(true);
    }
    expect(await repo.blobs.has('tree', sha256Hex(bytes(-1)))).toBe(true);
    expect(counting.counts).toMatchObject({ list: 2, stat: 0, get: 0 });
    const state = await repo.inventory!.state();
    expect(state).toMatchObject({ available: true, slot: 0, listed: 21 });
    expect(repo.inventory!.fresh).toBe(true);
    await closeInventory(repo);

    // Reopened within its age: no new listing, hits straight from level.
    const again = await open();
    counting.reset();
    expect(await again.blobs.has('data', sha256Hex(bytes(3)))).toBe(true);
    expect(counting.counts).toMatchObject({ list: 0, stat: 0 });
    await closeInventory(again);

    // Past its age: listed again.
    const stale = await open({ maxAgeMs: 0 });
    counting.reset();
    await new Promise((r) => setTimeout(r, 5));
    expect(await stale.blobs.has('data', sha256Hex(bytes(3)))).toBe(true);
    expect(counting.counts.list).toBe(2);
    await closeInventory(stale);
  });

  it('lists only objects named exactly as blobs: a stray copy under another shard is not one', async () => {
    const { base, open } = await setup(2);
    const id = sha256Hex(bytes(7));
    await base.put(`data/zz/${id}`, bytes(7));
    const repo = await open();
    expect(await repo.blobs.has('data', id)).toBe(false);
    expect(await repo.blobs.has('data', sha256Hex(bytes(1)))).toBe(true);
    expect(await repo.inventory!.state()).toMatchObject({ listed: 3 });
    await closeInventory(repo);
  });

  it('records what this client writes, and skips the existence check when fresh', async () => {
    const { counting, open } = await setup(5);
    const repo = await open();
    await repo.blobs.has('data', sha256Hex(bytes(0))); // fills
    counting.reset();
    for (let i = 100; i < 110; i++) {
      const r = await repo.blobs.put('data', bytes(i));
      expect(r.added).toBe(true);
    }
    // A fresh inventory makes a miss trustworthy: one PUT each, no HEAD first.
    expect(counting.counts).toMatchObject({ put: 10, stat: 0 });
    // A new store (empty memory cache) on the same inventory knows them without asking.
    const store = repo.blobStore();
    counting.reset();
    for (let i = 100; i < 110; i++) expect(await store.has('data', sha256Hex(bytes(i)))).toBe(true);
    expect(counting.counts).toMatchObject({ stat: 0, list: 0 });
    // And a second put is a no-op without any request.
    expect((await store.put('data', bytes(105))).added).toBe(false);
    expect(counting.counts.put).toBe(0);
    await closeInventory(repo);
  });

  it('stays correct when another client writes to the same repository', async () => {
    const { counting, open, writer } = await setup(3);
    const repo = await open();
    await repo.blobs.has('data', sha256Hex(bytes(0))); // fills
    // Another client (its own repository object, no shared inventory) adds a blob.
    const other = sha256Hex(bytes(999));
    await writer.blobs.put('data', bytes(999));
    counting.reset();
    const store = repo.blobStore();
    expect(await store.isKnown('data', other)).toBe(false);
    expect(await store.has('data', other)).toBe(true); // the stat fallback
    expect(counting.counts.stat).toBe(1);
    // ... and the answer is recorded: the next check costs nothing.
    const fresh = repo.blobStore();
    counting.reset();
    expect(await fresh.has('data', other)).toBe(true);
    expect(counting.counts.stat).toBe(0);
    // A blob nobody wrote is absent, asked once.
    expect(await fresh.has('data', sha256Hex(bytes(12345)))).toBe(false);
    expect(counting.counts.stat).toBe(1);
    // Writing what the other client wrote: no duplicate object, reported as not added.
    const base = counting.inner as MemoryBackend;
    const before = base.size;
    const dup = await repo.blobStore().put('data', bytes(999));
    expect(dup.added).toBe(false);
    expect(base.size).toBe(before);
    await closeInventory(repo);
  });

  it('keeps memory bounded: evicted keys are answered by level, not held in memory', async () => {
    const base = new CountingBackend(new MemoryBackend());
    const inventory = new BlobInventory({ dir: await tempDir('cairn-inv-'), location: 'x' });
    const store = new BlobStore(base, { inventory, knownEntries: 8 });
    for (let i = 0; i < 200; i++) await store.put('data', bytes(i));
    base.reset();
    const again = new BlobStore(base, { inventory, knownEntries: 8 });
    for (let i = 0; i < 200; i++) expect(await again.has('data', sha256Hex(bytes(i)))).toBe(true);
    expect(base.counts.stat).toBe(0);
    // Without an inventory the same small cache forgets, and the backend is asked.
    const plain = new BlobStore(base, { knownEntries: 8 });
    for (let i = 0; i < 200; i++) await plain.has('data', sha256Hex(bytes(i)));
    base.reset();
    expect(await plain.has('data', sha256Hex(bytes(0)))).toBe(true);
    expect(base.counts.stat).toBe(1);
    await inventory.close();

    const lru = new LruMap<number, number>(3);
    for (let i = 0; i < 10; i++) lru.set(i, i);
    expect(lru.size).toBe(3);
    lru.get(7);
    lru.set(10, 10);
    expect([7, 9, 10].every((k) => lru.has(k))).toBe(true);
    expect(lru.has(8)).toBe(false);
  });

  it('gives each process its own slot and runs without one when all are held', async () => {
    const dir = await tempDir('cairn-inv-');
    const backend = new MemoryBackend();
    await backend.put(blobKey('data', sha256Hex(bytes(1))), bytes(1));
    const a = new BlobInventory({ dir, location: 'loc', slots: 2 });
    const b = new BlobInventory({ dir, location: 'loc', slots: 2 });
    const c = new BlobInventory({ dir, location: 'loc', slots: 2 });
    expect(await a.state()).toMatchObject({ available: true, slot: 0 });
    expect(await b.state()).toMatchObject({ available: true, slot: 1 });
    expect((await c.state()).available).toBe(false);
    // Without a slot it still works: every miss goes to the backend.
    const counting = new CountingBackend(backend);
    const store = new BlobStore(counting, { inventory: c });
    expect(await store.has('data', sha256Hex(bytes(1)))).toBe(true);
    expect(counting.counts).toMatchObject({ stat: 1, list: 0 });
    // Another location is another database.
    const other = new BlobInventory({ dir, location: 'elsewhere', slots: 2 });
    expect(await other.state()).toMatchObject({ available: true, slot: 0 });
    await Promise.all([a.close(), b.close(), c.close(), other.close()]);
  });

  it('is emptied when the epoch changes or on invalidate (the prune hook)', async () => {
    const dir = await tempDir('cairn-inv-');
    const backend = new MemoryBackend();
    const key = blobKey('data', sha256Hex(bytes(1)));
    await backend.put(key, bytes(1));
    const first = new BlobInventory({ dir, location: 'loc' });
    await first.prepare(backend);
    expect(await first.lookup(key)).toBe(bytes(1).length);
    await first.close();
    const sameEpoch = new BlobInventory({ dir, location: 'loc' });
    expect(await sameEpoch.lookup(key)).toBe(bytes(1).length);
    await sameEpoch.invalidate();
    expect(await sameEpoch.lookup(key)).toBeUndefined();
    expect(sameEpoch.fresh).toBe(false);
    await sameEpoch.prepare(backend);
    expect(await sameEpoch.lookup(key)).toBeDefined();
    await sameEpoch.close();
    const pruned = new BlobInventory({ dir, location: 'loc', epoch: '1' });
    expect(await pruned.lookup(key)).toBeUndefined();
    expect(pruned.fresh).toBe(false);
    await pruned.close();
  });

  it('an interrupted fill is not fresh and is redone by the next caller', async () => {
    const backend = new MemoryBackend();
    for (let i = 0; i < 3000; i++) {
      await backend.put(blobKey('data', sha256Hex(bytes(i))), bytes(i));
    }
    const inventory = new BlobInventory({ dir: await tempDir('cairn-inv-'), location: 'l' });
    const controller = new AbortController();
    const slow = {
      location: 'l',
      capabilities: backend.capabilities,
      async *list(prefix: string) {
        let n = 0;
        for await (const info of backend.list(prefix)) {
          if (++n === 1500) controller.abort();
          yield info;
        }
      },
    } as unknown as MemoryBackend;
    await expect(inventory.prepare(slow, controller.signal)).rejects.toBeInstanceOf(AbortedError);
    expect(inventory.fresh).toBe(false);
    await inventory.prepare(backend);
    expect(inventory.fresh).toBe(true);
    expect((await inventory.state()).listed).toBe(3000);
    await inventory.close();
  });

  it('is kept by default only for remote backends', async () => {
    const repo = await initRepository(new MemoryBackend(), {}, { cacheDir: await tempDir() });
    expect(repo.inventory).toBeUndefined();
    expect(isRemoteBackend(new CountingBackend(new MemoryBackend()))).toBe(false);
    const remoteLike = {
      location: 'x:',
      capabilities: { writable: true, listable: true, atomicCreate: true },
    } as unknown as MemoryBackend;
    expect(isRemoteBackend(new CountingBackend(remoteLike))).toBe(true);
  });
});
