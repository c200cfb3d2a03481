/**
 * serveChunkJobs' asking protocol (the path of remote repositories): a window's sealed
 * chunks are views into one slab, they open to the window's chunks, and a slab handed
 * back (`spare`) carries a later window instead of a new buffer.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cutPoints } from '../../src/chunker/fastcdc.js';
import { chunkerParams } from '../../src/chunker/params.js';
import type { FromWorker } from '../../src/repo/chunk-protocol.js';
import { serveChunkJobs } from '../../src/repo/chunk-serve.js';
import { ObjectCodec } from '../../src/repo/codec.js';
import { codecSetup } from '../../src/repo/codec-setup.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

const CHUNKER = chunkerParams({ min: 4096, avg: 16_384, max: 65_536 });

type Sealed = Extract<FromWorker, { type: 'sealed' }>;

/**
 * Runs one file through a server; every chunk is new. `handBack` says whether each
 * window's slab is given back once its chunks were checked.
 */
async function sealFile(data: Uint8Array, handBack: boolean) {
  const dir = await tempDir();
  const path = join(dir, 'file');
  await writeFile(path, data);
  const codec = new ObjectCodec();
  const sealed: Sealed[] = [];
  const ids = new Map<number, string[]>();
  const opened: Promise<string[]>[] = [];
  let handle!: ReturnType<typeof serveChunkJobs>;
  const finished = new Promise<FromWorker>((resolve) => {
    handle = serveChunkJobs({ ...codecSetup(codec), chunker: CHUNKER }, (message) => {
      if (message.type === 'ids') {
        ids.set(message.window, message.ids);
        const need = new Uint8Array(message.ids.length).fill(1);
        // Answered later, as the pool does: the job asks for a decision after it has
        // read the next window.
        setImmediate(() => handle({ type: 'need', task: 1, window: message.window, need }));
      } else if (message.type === 'sealed') {
        sealed.push(message);
        // Copied now, before the slab may be reused.
        const copies = message.chunks.map((c) => Uint8Array.from(c.sealed));
        opened.push(Promise.all(copies.map(async (c) => codec.idOf(await codec.open(c, 'chunk')))));
        const slab = message.chunks[0]?.sealed.buffer as ArrayBuffer | undefined;
        if (handBack && slab) handle({ type: 'spare', buffer: slab });
      } else if (message.type === 'done' || message.type === 'error') {
        resolve(message);
      }
    });
  });
  handle({ type: 'task', task: 1, path, direct: false });
  expect((await finished).type).toBe('done');
  return { sealed, ids, opened: await Promise.all(opened) };
}

describe('sealed windows travel in slabs', () => {
  // Three windows and more (a window is 4 MiB plus up to one chunk).
  const data = pseudoRandomBytes(10 << 20, 7);

  it('seals each window into one buffer, whose views open to the window chunks', async () => {
    const { sealed, ids, opened } = await sealFile(data, false);
    expect(sealed.length).toBeGreaterThanOrEqual(3);
    const all = cutPoints(data, CHUNKER).map(({ offset, length }) =>
      new ObjectCodec().idOf(data.subarray(offset, offset + length)),
    );
    expect([...ids.keys()]).toEqual(sealed.map((s) => s.window));
    expect(sealed.flatMap((s) => ids.get(s.window)!)).toEqual(all);
    sealed.forEach((s, i) => {
      expect(s.chunks.map((c) => c.index)).toEqual(s.chunks.map((_c, j) => j));
      const buffers = new Set(s.chunks.map((c) => c.sealed.buffer));
      expect(buffers.size).toBe(1);
      expect(opened[i]).toEqual(ids.get(s.window));
    });
    // Not handed back: every window got a buffer of its own.
    expect(new Set(sealed.map((s) => s.chunks[0]!.sealed.buffer)).size).toBe(sealed.length);
  });

  it('reuses a slab handed back for a later window', async () => {
    const { sealed, ids, opened } = await sealFile(data, true);
    expect(sealed.length).toBeGreaterThanOrEqual(3);
    sealed.forEach((s, i) => {
      expect(opened[i]).toEqual(ids.get(s.window));
    });
    const buffers = new Set(sealed.map((s) => s.chunks[0]!.sealed.buffer));
    expect(buffers.size).toBe(1);
  });
});
