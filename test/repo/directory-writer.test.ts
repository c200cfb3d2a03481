/** DirectoryWriter stores pages while entries keep coming: order, results and failures. */
import { describe, expect, it } from 'vitest';
import type { PutOptions } from '../../src/backends/backend.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import type { Entry } from '../../src/manifest/types.js';
import { BlobStore } from '../../src/repo/blob-store.js';
import { DirectoryWriter, TreeReader } from '../../src/repo/tree-store.js';
import { fileEntry } from '../helpers/entries.js';

const PAGING = { min: 256, target: 1024, max: 4096 };

function file(i: number): Entry {
  return fileEntry(`f${String(i).padStart(5, '0')}`, 0, new Uint8Array(40).fill(i & 0xff));
}

/** Puts resolve in reverse order of arrival within each batch, and one may fail. */
class SlowBackend extends MemoryBackend {
  puts = 0;
  constructor(private readonly failAt = -1) {
    super();
  }
  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    const n = this.puts++;
    await new Promise((r) => setTimeout(r, 5 - (n % 5)));
    if (n === this.failAt) throw new Error(`put ${n} failed`);
    return super.put(key, data, options);
  }
}

async function write(store: BlobStore, count: number): Promise<string> {
  const w = new DirectoryWriter(store, PAGING);
  for (let i = 0; i < count; i++) await w.add(file(i));
  return (await w.finish()).tree;
}

describe('DirectoryWriter with pages stored concurrently', () => {
  it('gives the same tree as one put at a time, with pages in order', async () => {
    const slow = new BlobStore(new SlowBackend());
    const tree = await write(slow, 2000);
    const names: string[] = [];
    for await (const e of new TreeReader(slow).entries(tree)) names.push(e.name);
    expect(names).toEqual(Array.from({ length: 2000 }, (_, i) => file(i).name));
    expect(await write(new BlobStore(new MemoryBackend()), 2000)).toBe(tree);
  });

  it('reports a failed page put', async () => {
    const store = new BlobStore(new SlowBackend(3));
    await expect(write(store, 2000)).rejects.toThrow(/put 3 failed/);
  });
});

/** Holds every put until `release`, so a test sees what happens before anything is stored. */
class GatedBackend extends MemoryBackend {
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.open = resolve;
  });
  started = 0;
  failKeys = new Set<string>();
  release(): void {
    this.open();
  }
  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    this.started++;
    await this.gate;
    if (this.failKeys.has(key)) throw new Error(`cannot store ${key}`);
    return super.put(key, data, options);
  }
}

describe('DirectoryWriter.finishDeferred', () => {
  it('knows the tree id before any node is stored, and `stored` waits for all of them', async () => {
    const expected = await write(new BlobStore(new MemoryBackend()), 300);
    const gated = new GatedBackend();
    const store = new BlobStore(gated);
    const w = new DirectoryWriter(store, PAGING);
    // 300 entries of ~60 bytes make several pages, so an index node too; with puts held,
    // each add returns at once until PAGES_IN_FLIGHT pages are waiting.
    const adds: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) adds.push(w.add(file(i)));
    let settled = false;
    const all = Promise.all(adds).then(() => w.finishDeferred());
    void all.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false); // bounded: the writer waits for its oldest pages
    gated.release();
    const { tree, entries, stored } = await all;
    expect(tree).toBe(expected);
    expect(entries).toBe(300);
    await stored;
    expect(await store.has('tree', tree)).toBe(true);
    const names: string[] = [];
    for await (const e of new TreeReader(store).entries(tree)) names.push(e.name);
    expect(names).toHaveLength(300);
  });

  it('resolves with the id while the root node is still being stored', async () => {
    const gated = new GatedBackend();
    const store = new BlobStore(gated);
    const w = new DirectoryWriter(store, PAGING);
    await w.add(file(1));
    const { tree, stored } = await w.finishDeferred();
    expect(tree).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.has('tree', tree)).toBe(false); // not yet in the backend
    let done = false;
    void stored.then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    gated.release();
    await stored;
    expect(done).toBe(true);
  });

  it('rejects `stored` when one node could not be stored, after finish resolved', async () => {
    const gated = new GatedBackend();
    const store = new BlobStore(gated);
    const w = new DirectoryWriter(store, PAGING);
    await w.add(file(7));
    const { tree, stored } = await w.finishDeferred();
    gated.failKeys.add(`tree/${tree.slice(0, 2)}/${tree}`);
    gated.release();
    await expect(stored).rejects.toThrow(/cannot store tree/);
  });
});

/** Logs when each put starts and ends; puts take a few milliseconds, in varying order. */
class LoggingBackend extends MemoryBackend {
  readonly log: string[] = [];
  private n = 0;
  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    const id = key.split('/').pop()!;
    this.log.push(`start ${id}`);
    await new Promise((r) => setTimeout(r, 1 + (this.n++ % 4)));
    const written = await super.put(key, data, options);
    this.log.push(`end ${id}`);
    return written;
  }
}

describe('DirectoryWriter writes bottom-up while ids are known early', () => {
  it('starts a node only after every node it references has been stored', async () => {
    const backend = new LoggingBackend();
    const store = new BlobStore(backend);
    // A child directory of several pages, then a parent naming it among its files.
    const child = new DirectoryWriter(store, PAGING);
    for (let i = 0; i < 300; i++) await child.add(file(i));
    const sub = await child.finishDeferred();
    const parent = new DirectoryWriter(store, PAGING);
    await parent.add(file(1));
    await parent.add(
      {
        kind: 'dir',
        name: 'sub',
        mode: 0o755,
        uid: 1,
        gid: 1,
        mtime: { sec: 1, nsec: 0 },
        tree: sub.tree,
        files: 300,
        bytes: 12_000,
      },
      sub.stored,
    );
    const top = await parent.finishDeferred();
    await top.stored;
    const at = (what: string) => backend.log.indexOf(what);
    const reader = new TreeReader(store);
    const childNodes = await reader.nodeIds(sub.tree);
    expect(childNodes.length).toBeGreaterThan(2); // an index node over pages
    // The parent starts after the whole child subtree has ended.
    for (const node of childNodes) expect(at(`end ${node}`)).toBeLessThan(at(`start ${top.tree}`));
    // Within the child, its index node starts after each of its pages ended.
    for (const page of childNodes.slice(1)) {
      expect(at(`end ${page}`)).toBeLessThan(at(`start ${sub.tree}`));
    }
  });
});
