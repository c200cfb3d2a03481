/** DirectoryWriter stores pages while entries keep coming: order, results and failures. */
import { describe, expect, it } from 'vitest';
import type { PutOptions } from '../../src/backends/backend.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import type { Entry } from '../../src/manifest/types.js';
import { BlobStore } from '../../src/repo/blob-store.js';
import { DirectoryWriter, TreeReader } from '../../src/repo/tree-store.js';

const PAGING = { min: 256, target: 1024, max: 4096 };

function file(i: number): Entry {
  const inline = new Uint8Array(40).fill(i & 0xff);
  return {
    kind: 'file',
    name: `f${String(i).padStart(5, '0')}`,
    mode: 0o644,
    uid: 1,
    gid: 1,
    mtime: { sec: 1, nsec: 0 },
    size: inline.length,
    chunks: [],
    inline,
  };
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
