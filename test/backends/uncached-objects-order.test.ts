/**
 * The order the group commit relies on: publishAll names no object whose uncached write
 * is still running, and a failed write fails the batch, naming the object, with nothing
 * left behind. node:fs's `write` (the thread-pool write the uncached path uses) is held
 * back or failed on demand; every other call is the real one.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../helpers/fs.js';

const control = vi.hoisted(() => ({
  hold: false,
  held: [] as (() => void)[],
  fail: undefined as NodeJS.ErrnoException | undefined,
  calls: 0,
}));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const write = ((...args: unknown[]) => {
    control.calls++;
    const callback = args[args.length - 1] as (err: unknown, n?: number) => void;
    if (control.fail) {
      const err = control.fail;
      setImmediate(() => callback(err));
      return;
    }
    const run = () => (fs.write as (...a: unknown[]) => void)(...args);
    if (control.hold) control.held.push(run);
    else run();
  }) as typeof fs.write;
  return { ...fs, default: { ...fs, write }, write };
});

const { LocalDirectWriter } = await import('../../src/backends/local-direct.js');

const key = (i: number) => `data/0${i}/${'cd'.repeat(31)}0${i}`;
const body = (i: number) => Buffer.alloc(200_000 + i, 65 + i);

describe('publishAll and uncached writes', () => {
  it('names an object only once its uncached write has finished', async () => {
    const root = await tempDir();
    const writer = new LocalDirectWriter({ root, fsync: true });
    control.hold = true;
    const calls = control.calls;
    const pending = writer.writeTemps([{ key: key(1), parts: [body(1)] }], true);
    expect(control.calls).toBe(calls + 1);
    let settled = false;
    const published = writer.publishAll(pending).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    expect(existsSync(join(root, key(1)))).toBe(false);
    control.hold = false;
    for (const run of control.held.splice(0)) run();
    expect(await published).toEqual([true]);
    expect(readFileSync(join(root, key(1))).equals(body(1))).toBe(true);
  });

  it('fails the batch when a write fails, naming the object, and leaves no file', async () => {
    const root = await tempDir();
    const writer = new LocalDirectWriter({ root, fsync: true });
    control.fail = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', errno: -5 });
    try {
      const pending = writer.writeTemps(
        [
          { key: key(2), parts: [body(2)] },
          { key: key(3), parts: [body(3)] },
        ],
        true,
      );
      await expect(writer.publishAll(pending)).rejects.toThrow(
        new RegExp(`put ${key(2)} failed at .*input/output error`),
      );
    } finally {
      control.fail = undefined;
    }
    await writer.settled();
    const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) =>
      e.isFile(),
    );
    expect(files.map((f) => f.name)).toEqual([]);
  });
});
