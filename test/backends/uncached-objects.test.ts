/**
 * UncachedObjectWrites and the group-commit path that uses it: large objects are
 * written uncached in the background and read back exactly; an object that finds the
 * ring full, or is small, is left to the caller with nothing written; the ring is
 * reused once writes finish; publishAll waits for the writes, and discarded objects
 * leave nothing behind.
 */
import { closeSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalDirectWriter } from '../../src/backends/local-direct.js';
import {
  UNCACHED_OBJECT_MIN_BYTES,
  UncachedObjectWrites,
} from '../../src/backends/uncached-objects.js';
import { patternBytes, takesDirectIo, tempDir } from '../helpers/fs.js';

/** Splits `data` into a header and a body, as sealed objects come. */
const asParts = (data: Buffer) => [data.subarray(0, 37), data.subarray(37)];

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('UncachedObjectWrites', () => {
  it('writes objects in the background and reads them back exactly', async () => {
    const dir = await tempDir();
    if (!takesDirectIo(dir)) return;
    const writes = new UncachedObjectWrites();
    const fdsBefore = openFds();
    const sizes = [65_536, 65_537, 80_000, 200_003, 1_048_576, 300_000];
    const started = sizes.map((size, i) => {
      const file = join(dir, `o${i}`);
      const fd = openSync(file, 'wx');
      const data = patternBytes(size, i);
      const writing = writes.start(file, fd, asParts(data), size);
      expect(writing).toBeDefined();
      return { file, data, writing };
    });
    await Promise.all(started.map((s) => s.writing));
    for (const s of started) expect(readFileSync(s.file).equals(s.data)).toBe(true);
    expect(writes.uncachedObjects).toBe(sizes.length);
    // Both descriptors of every object are closed once its write resolves.
    expect(openFds()).toBe(fdsBefore);
  });

  it('leaves small objects and objects that find the ring full to the caller, untouched', async () => {
    const dir = await tempDir();
    if (!takesDirectIo(dir)) return;
    const writes = new UncachedObjectWrites();
    const small = join(dir, 'small');
    const smallFd = openSync(small, 'wx');
    expect(writes.start(small, smallFd, [patternBytes(100, 1)], 100)).toBeUndefined();
    expect(statSync(small).size).toBe(0);
    closeSync(smallFd);

    // Started without waiting, 1 MiB objects fill the 4 MiB ring after a few.
    const started: Promise<void>[] = [];
    let refusedFd: number | undefined;
    let refusedFile = '';
    for (let i = 0; i < 16 && refusedFd === undefined; i++) {
      const file = join(dir, `big${i}`);
      const fd = openSync(file, 'wx');
      const writing = writes.start(file, fd, [patternBytes(1024 * 1024, i)], 1024 * 1024);
      if (writing) started.push(writing);
      else {
        refusedFd = fd;
        refusedFile = file;
      }
    }
    expect(refusedFd).toBeDefined();
    expect(started.length).toBeGreaterThanOrEqual(2);
    expect(statSync(refusedFile).size).toBe(0);
    closeSync(refusedFd!);

    // Once they are written, the ring takes objects again (from its start, or wrapped).
    await writes.settled();
    for (let i = 0; i < 3; i++) {
      const file = join(dir, `again${i}`);
      const data = patternBytes(UNCACHED_OBJECT_MIN_BYTES + 4096 * i + 1, 50 + i);
      const writing = writes.start(file, openSync(file, 'wx'), asParts(data), data.length);
      expect(writing).toBeDefined();
      await writing;
      expect(readFileSync(file).equals(data)).toBe(true);
    }
  });

  it('asks producers to wait while the ring is more than half full, and wakes them', async () => {
    const dir = await tempDir();
    if (!takesDirectIo(dir)) return;
    const writes = new UncachedObjectWrites();
    expect(writes.room()).toBeUndefined();
    const started: Promise<void>[] = [];
    for (let i = 0; i < 3; i++) {
      const file = join(dir, `o${i}`);
      const writing = writes.start(
        file,
        openSync(file, 'wx'),
        [patternBytes(1024 * 1024, i)],
        1024 * 1024,
      );
      if (writing) started.push(writing);
    }
    // 3 MiB of the 4 MiB ring under way.
    expect(started).toHaveLength(3);
    const wait = writes.room();
    expect(wait).toBeDefined();
    await Promise.all(started);
    await wait;
    expect(writes.room()).toBeUndefined();
  });
});

describe('LocalDirectWriter with uncached writes', () => {
  const key = (i: number) => `data/${String(i).padStart(2, '0')}/${'ab'.repeat(31)}${i}`;

  it('publishes objects whose writes finish after writeTemps returned', async () => {
    const root = await tempDir();
    const writer = new LocalDirectWriter({ root, fsync: true });
    const items = [0, 1, 2, 3].map((i) => ({
      key: key(i),
      parts: asParts(patternBytes(150_000 + i, i)),
    }));
    const written = await writer.publishAll(writer.writeTemps(items, true));
    expect(written).toEqual([true, true, true, true]);
    for (const [i, item] of items.entries()) {
      const stored = readFileSync(join(root, item.key));
      expect(stored.equals(Buffer.concat(item.parts)), `object ${i}`).toBe(true);
    }
    const left = readdirSync(root, { recursive: true }).filter((n) => String(n).includes('.tmp~'));
    expect(left).toEqual([]);
  });

  it('leaves nothing of discarded objects once their writes are done', async () => {
    const root = await tempDir();
    const writer = new LocalDirectWriter({ root, fsync: true });
    const items = [0, 1, 2].map((i) => ({ key: key(i), parts: asParts(patternBytes(500_000, i)) }));
    writer.discard(writer.writeTemps(items, true));
    await writer.settled();
    const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) =>
      e.isFile(),
    );
    expect(files).toEqual([]);
  });
});
