/**
 * LocalDirectWriter and new folders: an object is reported durable only once the folder
 * holding it is, even when another batch made that folder and has not fsynced its parent
 * yet. Directory fsyncs are observed through `openSync(dir, 'r')` (how they open it);
 * `syncfs` is reported unavailable, so publishAll takes its per-folder fallback.
 */
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LocalDirectWriter } from '../../src/backends/local-direct.js';
import { tempDir } from '../helpers/fs.js';

const opened = vi.hoisted(() => [] as string[]);

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    openSync: (...args: Parameters<typeof real.openSync>) => {
      if (args[1] === 'r') opened.push(String(args[0]));
      return real.openSync(...args);
    },
  };
});

vi.mock('../../src/backends/syncfs.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/backends/syncfs.js')>();
  return { ...real, syncFileSystem: async () => false };
});

const item = (key: string, text: string) => ({ key, parts: [Buffer.from(text)] });

describe('LocalDirectWriter: folders made by another batch', () => {
  it('putMany into a folder not yet durable fsyncs its parent too, until it is', async () => {
    const root = await tempDir();
    const parent = join(root, 'data');
    const syncs = () => opened.filter((p) => p === parent).length;
    const writer = new LocalDirectWriter({ root, fsync: true });
    const a = writer.putMany([item('data/ab/one', 'x')]); // makes data/ and data/ab/
    const b = writer.putMany([item('data/ab/two', 'y')]); // data/ab/ known, not durable
    expect(await a).toEqual([true]);
    expect(await b).toEqual([true]);
    expect(syncs()).toBe(2);
    // Durable now: later batches fsync only the folder itself.
    expect(await writer.putMany([item('data/ab/three', 'z')])).toEqual([true]);
    expect(syncs()).toBe(2);
    // A writer finding the folder there (another thread or process may have just made
    // it) fsyncs the parent once, then no more.
    const other = new LocalDirectWriter({ root, fsync: true });
    expect(await other.putMany([item('data/ab/four', 'w')])).toEqual([true]);
    expect(await other.putMany([item('data/ab/five', 'v')])).toEqual([true]);
    expect(syncs()).toBe(3);
  });

  it('publishAll without syncfs: a batch published first fsyncs the folder another made', async () => {
    const root = await tempDir();
    const parent = join(root, 'data');
    const syncs = () => opened.filter((p) => p === parent).length;
    const writer = new LocalDirectWriter({ root, fsync: true });
    const first = writer.writeTemps([item('data/cd/one', 'x')]); // makes data/cd/
    const second = writer.writeTemps([item('data/cd/two', 'y')]);
    const before = syncs();
    expect(await writer.publishAll(second)).toEqual([true]);
    expect(syncs()).toBe(before + 1);
    expect(await writer.publishAll(first)).toEqual([true]);
    expect(syncs()).toBe(before + 2);
    const third = writer.writeTemps([item('data/cd/three', 'z')]);
    expect(await writer.publishAll(third)).toEqual([true]);
    expect(syncs()).toBe(before + 2);
  });
});
