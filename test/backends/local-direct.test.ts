/**
 * LocalDirectWriter: the chunk pool's way of writing into a local repository. Objects
 * get their final names only when published, existing objects are never overwritten,
 * and no temporary file outlives a call.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { LocalDirectWriter } from '../../src/backends/local-direct.js';
import { tempDir } from '../helpers/fs.js';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  }
  return out.sort();
}

const item = (key: string, text: string) => ({
  key,
  parts: [Buffer.from('head:'), Buffer.from(text)],
});

describe.each([true, false])('LocalDirectWriter (fsync %s)', (fsync) => {
  it('putMany writes objects as LocalBackend reads them, and never overwrites one', async () => {
    const root = await tempDir();
    const writer = new LocalDirectWriter({ root, fsync });
    expect(
      await writer.putMany([item('data/ab/one', 'first'), item('tree/cd/two', 'second')]),
    ).toEqual([true, true]);
    expect(await writer.putMany([item('data/ab/one', 'other')])).toEqual([false]);
    const backend = new LocalBackend(root);
    expect(Buffer.from(await backend.get('data/ab/one')).toString()).toBe('head:first');
    expect(writer.sizeOf('tree/cd/two')).toBe('head:second'.length);
    expect(writer.has('data/ab/none')).toBe(false);
    expect(await filesUnder(root)).toEqual(['data/ab/one', 'tree/cd/two']);
  });

  it('writeTemps names nothing until publishAll; discard leaves nothing', async () => {
    const root = await tempDir();
    const writer = new LocalDirectWriter({ root, fsync });
    const pending = writer.writeTemps([item('data/ef/three', 'x'), item('data/ef/four', 'y')]);
    expect(writer.has('data/ef/three')).toBe(false);
    expect((await filesUnder(root)).every((f) => f.includes('.tmp~'))).toBe(true);
    expect(await writer.publishAll(pending)).toEqual([true, true]);
    expect(await filesUnder(root)).toEqual(['data/ef/four', 'data/ef/three']);
    expect(await readFile(join(root, 'data/ef/four'), 'utf8')).toBe('head:y');
    // A second writer racing for the same key: exactly one wins.
    const other = new LocalDirectWriter({ root, fsync });
    const again = other.writeTemps([item('data/ef/four', 'z'), item('data/ef/five', 'w')]);
    expect(await other.publishAll(again)).toEqual([false, true]);
    expect(await readFile(join(root, 'data/ef/four'), 'utf8')).toBe('head:y');
    const dropped = writer.writeTemps([item('data/ef/six', 'v')]);
    writer.discard(dropped);
    expect(await filesUnder(root)).toEqual(['data/ef/five', 'data/ef/four', 'data/ef/three']);
  });

  it('putMany writes before it returns and holds no bytes while it waits', async () => {
    const root = await tempDir();
    const writer = new LocalDirectWriter({ root, fsync });
    // 12,000 bytes: a buffer of its own, not a slice of Buffer's shared pool.
    const holder: { page?: Buffer } = { page: Buffer.from('a tree page '.repeat(1000)) };
    const ref = new WeakRef(holder.page!.buffer);
    // A WeakRef keeps its target alive until the job that made it ends.
    await new Promise((resolve) => setImmediate(resolve));
    // Handed over in a function of its own, so no temporary of this frame refers to it.
    const done = handOver(writer, holder);
    // Written already, before anything was awaited: under a temporary name while its
    // fsync runs (or under its own name, with nothing to wait for).
    const folder = join(root, 'tree', 'ab');
    const names = readdirSync(folder);
    expect(names).toHaveLength(1);
    expect(names[0]!.includes('.tmp~')).toBe(fsync);
    expect(readFileSync(join(folder, names[0]!)).length).toBe(12_000);
    // Still in the job that called putMany: its fsyncs cannot have been reported yet.
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
    expect(await done).toEqual([true]);
    expect(await filesUnder(root)).toEqual(['tree/ab/page']);
  });

  it('names the object when its folder cannot be made, and leaves nothing behind', async () => {
    const root = await tempDir();
    const writer = new LocalDirectWriter({ root, fsync });
    await writer.putMany([item('tree/ab/one', 'x')]);
    await writeFile(join(root, 'tree', 'cd'), 'a file where a folder should be');
    await expect(writer.putMany([item('tree/cd/two', 'y')])).rejects.toThrow(/tree\/cd\/two/);
    expect(() => writer.writeTemps([item('tree/cd/three', 'z')])).toThrow(/tree\/cd\/three/);
    expect(await filesUnder(root)).toEqual(['tree/ab/one', 'tree/cd']);
  });
});

/** Gives the holder's page to `putMany` and lets go of it. */
function handOver(writer: LocalDirectWriter, holder: { page?: Buffer }): Promise<boolean[]> {
  const page = holder.page!;
  holder.page = undefined;
  return writer.putMany([{ key: 'tree/ab/page', parts: [page] }]);
}

/** A full garbage collection, now (V8's `gc`, exposed for this call). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}
