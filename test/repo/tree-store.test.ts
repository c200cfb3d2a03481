import { describe, expect, it } from 'vitest';
import { CountingBackend } from '../../src/backends/counting.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { sortNames } from '../../src/manifest/names.js';
import { DEFAULT_PAGING } from '../../src/manifest/paging.js';
import { BlobStore } from '../../src/repo/blob-store.js';
import { DirectoryWriter, TreeReader } from '../../src/repo/tree-store.js';
import { fileEntry } from '../helpers/entries.js';

async function writeDir(
  store: BlobStore,
  names: string[],
  content = (n: string) => fileEntry(n, 10),
) {
  const w = new DirectoryWriter(store, DEFAULT_PAGING);
  for (const n of sortNames(names)) await w.add(content(n));
  return w.finish();
}

async function treeObjects(backend: MemoryBackend): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const i of backend.list('tree/')) keys.add(i.key);
  return keys;
}

describe('directory paging', () => {
  it('a small directory is one leaf; entries read back in order', async () => {
    const backend = new MemoryBackend();
    const store = new BlobStore(backend);
    const { tree, entries } = await writeDir(store, ['b', 'a', 'c']);
    expect(entries).toBe(3);
    const reader = new TreeReader(store);
    expect((await reader.node(tree)).kind).toBe('leaf');
    const names = [];
    for await (const e of reader.entries(tree)) names.push(e.name);
    expect(names).toEqual(['a', 'b', 'c']);
    expect((await treeObjects(backend)).size).toBe(1);
  });

  it('100,000 entries split into pages; lookups and iteration work; one change rewrites little', async () => {
    const backend = new MemoryBackend();
    const store = new BlobStore(backend);
    const names = Array.from(
      { length: 100_000 },
      (_, i) => `file-${i.toString().padStart(6, '0')}.txt`,
    );
    const first = await writeDir(store, names);
    const before = await treeObjects(backend);
    expect(before.size).toBeGreaterThan(20);
    expect(before.size).toBeLessThan(400);
    const reader = new TreeReader(store);
    expect((await reader.node(first.tree)).kind).toBe('index');
    let count = 0;
    let last = '';
    for await (const e of reader.entries(first.tree)) {
      expect(e.name > last).toBe(true);
      last = e.name;
      count++;
    }
    expect(count).toBe(100_000);
    expect((await reader.lookup(first.tree, 'file-054321.txt'))?.name).toBe('file-054321.txt');
    expect(await reader.lookup(first.tree, 'file-054321.tx')).toBeUndefined();
    expect(await reader.lookup(first.tree, '0')).toBeUndefined();
    expect(await reader.lookup(first.tree, 'zzz')).toBeUndefined();

    // change one entry's size: only its page and the index above it are new
    const second = await writeDir(store, names, (n) =>
      fileEntry(n, n === 'file-050000.txt' ? 11 : 10),
    );
    const after = await treeObjects(backend);
    const added = [...after].filter((k) => !before.has(k));
    expect(second.tree).not.toBe(first.tree);
    expect(added.length).toBeLessThanOrEqual(4);

    // insert one name: again only a few new objects
    const third = await writeDir(store, [...names, 'file-050000.txt.bak']);
    const after3 = await treeObjects(backend);
    expect([...after3].filter((k) => !after.has(k)).length).toBeLessThanOrEqual(5);
    expect(third.entries).toBe(100_001);
  });

  it('equal directories give equal ids (determinism)', async () => {
    const store = new BlobStore(new MemoryBackend());
    const names = Array.from({ length: 5000 }, (_, i) => `n${i}`);
    const a = await writeDir(store, names);
    const b = await writeDir(store, [...names].reverse());
    expect(a.tree).toBe(b.tree);
  });

  it('reading 1,000,000 entries keeps memory bounded (pages, not the whole directory)', async () => {
    const backend = new CountingBackend(new MemoryBackend());
    const store = new BlobStore(backend);
    const w = new DirectoryWriter(store, DEFAULT_PAGING);
    // names generated in order; no array of a million entries is held
    for (let i = 0; i < 1_000_000; i++)
      await w.add(fileEntry(`e${i.toString().padStart(7, '0')}`, 1));
    const { tree, entries } = await w.finish();
    expect(entries).toBe(1_000_000);
    const reader = new TreeReader(store, 8);
    let n = 0;
    for await (const _ of reader.entries(tree)) n++;
    expect(n).toBe(1_000_000);
  }, 120_000);
});

describe('TreeReader cache', () => {
  it('keeps at most cacheBytes of decoded nodes, however few', async () => {
    const counting = new CountingBackend(new MemoryBackend());
    const blobs = new BlobStore(counting);
    // Three one-page directories of about 20 KB each (inline content).
    const ids: string[] = [];
    for (let d = 0; d < 3; d++) {
      const w = new DirectoryWriter(blobs, DEFAULT_PAGING);
      await w.add(fileEntry(`big${d}`, 0, new Uint8Array(20_000).fill(d + 1)));
      ids.push((await w.finish()).tree);
    }
    const gets = async (reader: TreeReader, id: string) => {
      const before = counting.counts.get;
      await reader.node(id);
      return counting.counts.get - before;
    };
    // Room for two such nodes by bytes (but 256 by count): the first is evicted by the third.
    const small = new TreeReader(blobs, 256, 45_000);
    for (const id of ids) expect(await gets(small, id)).toBe(1);
    expect(await gets(small, ids[2]!)).toBe(0);
    expect(await gets(small, ids[1]!)).toBe(0);
    expect(await gets(small, ids[0]!)).toBe(1);
    // With room for all three, nothing is read twice.
    const roomy = new TreeReader(blobs, 256, 1_000_000);
    for (const id of ids) expect(await gets(roomy, id)).toBe(1);
    for (const id of ids) expect(await gets(roomy, id)).toBe(0);
  });

  it('a single-walk reader keeps 1 MiB of nodes, where the default keeps 8', async () => {
    const counting = new CountingBackend(new MemoryBackend());
    const blobs = new BlobStore(counting);
    // Twelve one-page directories of about 200 KB each: 2.4 MB in all.
    const ids: string[] = [];
    for (let d = 0; d < 12; d++) {
      const w = new DirectoryWriter(blobs, DEFAULT_PAGING);
      await w.add(fileEntry(`big${d}`, 0, new Uint8Array(200_000).fill(d + 1)));
      ids.push((await w.finish()).tree);
    }
    const rereads = async (reader: TreeReader) => {
      for (const id of ids) await reader.node(id);
      const before = counting.counts.get;
      for (const id of ids) await reader.node(id);
      return counting.counts.get - before;
    };
    expect(await rereads(new TreeReader(blobs))).toBe(0);
    // Only the last five fit in 1 MiB; reading in the same order evicts each before use.
    expect(await rereads(TreeReader.forSingleWalk(blobs))).toBe(12);
  });

  it('a walk reader keeps small directories, and reads large pages again each time', async () => {
    const counting = new CountingBackend(new MemoryBackend());
    const blobs = new BlobStore(counting);
    const small = (await writeDir(blobs, ['a', 'b', 'c'])).tree;
    // One page of about 40 KB (inline content), over the 16 KiB a walk reader keeps.
    const large = (
      await writeDir(blobs, ['x', 'y'], (n) => fileEntry(n, 0, new Uint8Array(20_000).fill(7)))
    ).tree;
    const reader = TreeReader.forWalk(blobs);
    const list = async (tree: string) => {
      const out: string[] = [];
      for await (const e of reader.entries(tree)) out.push(e.name);
      return out;
    };
    const reads = async (tree: string) => {
      const before = counting.counts.get;
      await list(tree);
      return counting.counts.get - before;
    };
    expect(await list(small)).toEqual(['a', 'b', 'c']);
    expect(await list(large)).toEqual(['x', 'y']);
    expect(await reads(small)).toBe(0);
    expect(await reads(large)).toBe(1);
    expect(await reads(large)).toBe(1);
  });

  it('entries with onNode names every node once, reading each once, past the cache', async () => {
    const counting = new CountingBackend(new MemoryBackend());
    const blobs = new BlobStore(counting);
    // One directory of 3.6 MB of inline content: many pages under an index, over 1 MiB.
    const names = Array.from({ length: 60 }, (_, i) => `f${String(i).padStart(3, '0')}`);
    const { tree } = await writeDir(blobs, names, (n) =>
      fileEntry(n, 0, new Uint8Array(60_000).fill(n.charCodeAt(3))),
    );
    const expected = await new TreeReader(blobs).nodeIds(tree);
    expect(expected.length).toBeGreaterThan(5);
    const reader = TreeReader.forSingleWalk(blobs);
    const seen: string[] = [];
    const before = counting.counts.get;
    const got: string[] = [];
    for await (const e of reader.entries(tree, undefined, (n) => seen.push(n))) got.push(e.name);
    expect(got).toEqual(names);
    expect(seen.sort()).toEqual([...expected].sort());
    expect(counting.counts.get - before).toBe(expected.length);
  });
});
