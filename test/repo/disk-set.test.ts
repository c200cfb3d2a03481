import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closeAll, DiskSet, SortedCursor } from '../../src/repo/disk-set.js';
import { tempDir } from '../helpers/fs.js';

const id = (n: number) => createHash('sha256').update(String(n)).digest('hex');

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('DiskSet', () => {
  it('stays in memory below the threshold and writes nothing', async () => {
    const dir = await tempDir();
    const set = new DiskSet({ dir, spillThreshold: 10 });
    for (let i = 0; i < 10; i++) await set.add(id(i), i);
    expect(set.spilled).toBe(false);
    expect(await set.count()).toBe(10);
    expect(await readdir(dir)).toEqual([]);
    await set.close();
  });

  it('removes the set directories of dead processes when it spills, not those of live ones', async () => {
    const dir = await tempDir();
    const { mkdir } = await import('node:fs/promises');
    // pid 2^22 + 1 is above Linux's pid_max limit: never a running process.
    await mkdir(join(dir, 'cairn-set-4194305-abc'));
    await mkdir(join(dir, `cairn-set-${process.ppid}-def`));
    await mkdir(join(dir, 'unrelated'));
    const set = new DiskSet({ dir, spillThreshold: 1 });
    await set.add(id(1));
    await set.add(id(2));
    const left = await readdir(dir);
    expect(left).not.toContain('cairn-set-4194305-abc');
    expect(left).toContain(`cairn-set-${process.ppid}-def`);
    expect(left).toContain('unrelated');
    await set.close();
  });

  it('spills past the threshold and keeps add/has/get/count/order', async () => {
    const dir = await tempDir();
    const set = new DiskSet({ dir, spillThreshold: 5, bufferSize: 3 });
    const keys = Array.from({ length: 50 }, (_, i) => id(i));
    for (const [i, k] of keys.entries()) await set.add(k, i);
    expect(set.spilled).toBe(true);
    expect(set.directory?.startsWith(dir)).toBe(true);
    // Re-adding (some flushed, some buffered) does not change the count.
    for (const k of keys.slice(0, 20)) await set.add(k, 7);
    expect(await set.count()).toBe(50);
    expect(await set.has(keys[3]!)).toBe(true);
    expect(await set.get(keys[3]!)).toBe(7);
    expect(await set.get(keys[40]!)).toBe(40);
    expect(await set.has(id(1000))).toBe(false);
    expect(await set.addNew(keys[0]!)).toBe(false);
    expect(await set.addNew(id(1000), 5)).toBe(true);
    expect(await set.count()).toBe(51);
    const entries = await collect(set.entries());
    expect(entries.map(([k]) => k)).toEqual([...keys, id(1000)].sort());
    expect(new Map(entries).get(keys[45]!)).toBe(45);
    await set.close();
  });

  it('close removes the database directory, also after an error in use', async () => {
    const dir = await tempDir();
    const set = new DiskSet({ dir, spillThreshold: 1 });
    await set.add(id(1));
    await set.add(id(2));
    const path = set.directory!;
    expect((await stat(path)).isDirectory()).toBe(true);
    await expect(
      (async () => {
        try {
          await set.add(id(3));
          throw new Error('boom');
        } finally {
          await closeAll(set);
        }
      })(),
    ).rejects.toThrow('boom');
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
    await set.close(); // idempotent
    await expect(set.add(id(4))).rejects.toThrow(/after close/);
  });

  it('merge-joins two sorted sets with SortedCursor', async () => {
    const dir = await tempDir();
    const a = new DiskSet({ dir, spillThreshold: 4, bufferSize: 2 });
    const b = new DiskSet({ dir, spillThreshold: 1000 }); // one on disk, one in memory
    try {
      for (let i = 0; i < 40; i++) if (i % 2 === 0) await a.add(id(i));
      for (let i = 0; i < 40; i++) if (i % 3 === 0) await b.add(id(i), i);
      const cursor = new SortedCursor(b.entries());
      const both: string[] = [];
      const onlyA: string[] = [];
      for await (const k of a.keys()) {
        if ((await cursor.seek(k)) !== undefined) both.push(k);
        else onlyA.push(k);
      }
      await cursor.close();
      const expected = (f: (i: number) => boolean) =>
        Array.from({ length: 40 }, (_, i) => i)
          .filter(f)
          .map(id)
          .sort();
      expect(both).toEqual(expected((i) => i % 6 === 0));
      expect(onlyA).toEqual(expected((i) => i % 2 === 0 && i % 3 !== 0));
    } finally {
      await closeAll(a, b);
    }
  });

  it('behaves like a JS Map whatever the threshold and buffer size (property)', async () => {
    const dir = await tempDir();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            op: fc.constantFrom('add', 'addNew', 'has', 'get'),
            key: fc.integer({ min: 0, max: 60 }),
            value: fc.integer({ min: 0, max: 1000 }),
          }),
          { maxLength: 150 },
        ),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 10 }),
        async (ops, spillThreshold, bufferSize) => {
          const model = new Map<string, number>();
          const set = new DiskSet({ dir, spillThreshold, bufferSize });
          try {
            for (const { op, key, value } of ops) {
              const k = id(key);
              if (op === 'add') {
                await set.add(k, value);
                model.set(k, value);
              } else if (op === 'addNew') {
                const fresh = !model.has(k);
                expect(await set.addNew(k, value)).toBe(fresh);
                if (fresh) model.set(k, value);
              } else if (op === 'has') {
                expect(await set.has(k)).toBe(model.has(k));
              } else {
                expect(await set.get(k)).toBe(model.get(k));
              }
            }
            expect(await set.count()).toBe(model.size);
            expect(await collect(set.entries())).toEqual(
              [...model.entries()].sort(([x], [y]) => (x < y ? -1 : 1)),
            );
          } finally {
            await set.close();
          }
        },
      ),
      { numRuns: 40 },
    );
    expect(await readdir(dir)).toEqual([]);
  });
});
