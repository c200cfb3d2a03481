import { createHash } from 'node:crypto';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExternalSortSet } from '../../src/repo/external-sort-set.js';
import { lookupInRun, RunReader, writeRun } from '../../src/repo/sorted-run.js';
import { tempDir } from '../helpers/fs.js';

const id = (n: number) => createHash('sha256').update(String(n)).digest('hex');

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('ExternalSortSet', () => {
  it('stays in memory below runEntries and writes nothing', async () => {
    const dir = await tempDir();
    const set = new ExternalSortSet({ dir, runEntries: 10 });
    for (let i = 0; i < 9; i++) await set.add(id(i), i);
    await set.add(id(0), 100); // a repeat does not count twice
    expect(await set.count()).toBe(9);
    expect(set.spilled).toBe(false);
    expect(await set.get(id(0))).toBe(100);
    expect(await set.has(id(50))).toBe(false);
    expect(await collect(set.keys())).toEqual(Array.from({ length: 9 }, (_, i) => id(i)).sort());
    expect(await readdir(dir)).toEqual([]);
    await set.close();
  });

  it('spills into runs, merges them and removes them on close', async () => {
    const dir = await tempDir();
    const set = new ExternalSortSet({ dir, runEntries: 3, fanIn: 2 });
    const keys = Array.from({ length: 40 }, (_, i) => `data/${id(i)}`);
    for (const [i, k] of keys.entries()) await set.add(k, i * 1000);
    expect(set.spilled).toBe(true);
    const runDir = set.runDirectory!;
    expect(runDir.startsWith(dir)).toBe(true);
    // Runs of a level are merged as they pile up: 40 keys in runs of 3 make 14 runs,
    // held as at most one run per level (binary counter), here 3 files (8 + 4 + 2).
    expect((await readdir(runDir)).length).toBe(3);
    expect(await set.count()).toBe(40);
    expect((await readdir(runDir)).length).toBe(1);
    expect(await collect(set.entries())).toEqual(
      keys.map((k, i) => [k, i * 1000] as [string, number]).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    );
    for (const [i, k] of keys.entries()) expect(await set.get(k)).toBe(i * 1000);
    expect(await set.get(`data/${id(1000)}`)).toBeUndefined();
    expect(await set.get('a')).toBeUndefined(); // before every key
    expect(await set.get('zzz')).toBeUndefined(); // after every key
    await set.close();
    await set.close();
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps the value added last when a key is in several runs', async () => {
    const dir = await tempDir();
    const set = new ExternalSortSet({ dir, runEntries: 2, fanIn: 3 });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 4; i++) await set.add(id(i), round * 10 + i);
    }
    expect(await set.count()).toBe(4);
    for (let i = 0; i < 4; i++) expect(await set.get(id(i))).toBe(40 + i);
    await set.close();
  });

  it('refuses additions once read, and any use after close', async () => {
    const set = new ExternalSortSet({ dir: await tempDir(), runEntries: 1 });
    await set.add('a');
    await set.add('b');
    expect(await set.count()).toBe(2);
    await expect(set.add('c')).rejects.toThrow(/after the set was read/);
    await set.close();
    await expect(set.count()).rejects.toThrow(/after close/);
  });

  it('rejects keys a run cannot hold', async () => {
    const set = new ExternalSortSet({ dir: await tempDir() });
    await expect(set.add('has space')).rejects.toThrow(RangeError);
    await expect(set.add('tab\there')).rejects.toThrow(RangeError);
    await expect(set.add('')).rejects.toThrow(RangeError);
    await expect(set.add('x'.repeat(513))).rejects.toThrow(RangeError);
    await set.add('x'.repeat(512));
    expect(await set.count()).toBe(1);
    await set.close();
  });

  it('matches a Map for any additions, run size and fan-in (property)', async () => {
    const dir = await tempDir();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: -5, max: 1e9 })), {
          maxLength: 150,
        }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 2, max: 4 }),
        async (adds, runEntries, fanIn) => {
          const set = new ExternalSortSet({ dir, runEntries, fanIn });
          const model = new Map<string, number>();
          // Keys of different lengths, so lines differ in size.
          const key = (n: number) => `k${'x'.repeat(n % 7)}${n}`;
          try {
            for (const [n, v] of adds) {
              await set.add(key(n), v);
              model.set(key(n), v);
            }
            const expected = [...model.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
            expect(await set.count()).toBe(model.size);
            expect(await collect(set.entries())).toEqual(expected);
            for (let n = 0; n <= 61; n++) expect(await set.get(key(n))).toBe(model.get(key(n)));
          } finally {
            await set.close();
          }
        },
      ),
      { numRuns: 60 },
    );
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('sorted run files', () => {
  it('finds every key and no other by binary search, whatever the line lengths', async () => {
    const dir = await tempDir();
    const path = join(dir, 'run');
    // Lines from 3 to 530 bytes long, so lookups start mid-line and cross blocks.
    const keys = Array.from({ length: 300 }, (_, i) =>
      `${String(i).padStart(4, '0')}${'y'.repeat((i * 37) % 512)}`.slice(0, 512),
    ).sort();
    await writeRun(path, { keys, values: keys.map((_, i) => i * 3) });
    const file = await open(path, 'r');
    try {
      const size = (await file.stat()).size;
      for (const [i, k] of keys.entries()) expect(await lookupInRun(file, size, k)).toBe(i * 3);
      for (const absent of ['', '0', '00000', `${keys[5]}z`, '9999', '~']) {
        expect(await lookupInRun(file, size, absent)).toBeUndefined();
      }
    } finally {
      await file.close();
    }
  });

  it('reads back what was written, across block boundaries', async () => {
    const dir = await tempDir();
    const path = join(dir, 'run');
    const keys = Array.from({ length: 2000 }, (_, i) => id(i)).sort();
    const values = keys.map((_, i) => (i % 2 === 0 ? i : i + 0.5));
    await writeRun(path, { keys, values });
    const reader = await RunReader.open(path, 4096);
    const got: Array<[string, number]> = [];
    try {
      for (;;) {
        if (reader.needsRead) await reader.refill();
        if (reader.done) break;
        got.push([reader.key, reader.value]);
        reader.advance();
      }
    } finally {
      await reader.close();
    }
    expect(got).toEqual(keys.map((k, i) => [k, values[i]]));
    expect((await readFile(path, 'latin1')).split('\n')[0]).toBe(`${keys[0]}\t0`);
  });

  it('names a file cut inside a line', async () => {
    const dir = await tempDir();
    const path = join(dir, 'cut');
    await writeFile(path, 'a\t1\nb\t2');
    const reader = await RunReader.open(path, 4096);
    try {
      expect(reader.key).toBe('a');
      reader.advance();
      await expect(reader.refill()).rejects.toThrow(`run file ${path} ends inside a line`);
    } finally {
      await reader.close();
    }
  });
});
