/**
 * serveChunkJobs' direct puts (tree pages): each is reported only once its object has
 * its final name (fsynced, or not where the repository says so); many puts sent at
 * once all land, under their names, with no temporary file left; a put of a stored
 * object reports it as not written; a put that cannot be written is an error naming
 * the object, and the next put still works.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEMP_PREFIX } from '../../src/backends/local.js';
import { chunkerParams } from '../../src/chunker/params.js';
import type { FromWorker } from '../../src/repo/chunk-protocol.js';
import { serveChunkJobs } from '../../src/repo/chunk-serve.js';
import { ObjectCodec } from '../../src/repo/codec.js';
import { codecSetup } from '../../src/repo/codec-setup.js';
import { blobKey } from '../../src/repo/layout.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

type PutDone = Extract<FromWorker, { type: 'put-done' }>;

/** Serves puts into a new repository folder; `done` resolves with the reply to each task. */
async function server(fsync: boolean) {
  const root = await tempDir('cairn-repo-');
  const codec = new ObjectCodec();
  const replies = new Map<number, (m: FromWorker) => void>();
  const namedWhenReported: boolean[] = [];
  const keys = new Map<number, string>();
  const handle = serveChunkJobs(
    {
      ...codecSetup(codec),
      chunker: chunkerParams({ min: 4096, avg: 16384, max: 65536 }),
      direct: { root, fsync },
    },
    (message) => {
      if (message.type === 'put-done') {
        // The reply must come only once the object has its final name.
        const key = keys.get(message.task)!;
        namedWhenReported.push(existsSync(join(root, ...key.split('/'))));
      }
      if ('task' in message) replies.get(message.task)?.(message);
    },
  );
  let next = 0;
  const put = (data: Uint8Array): { key: string; done: Promise<FromWorker> } => {
    const id = codec.idOf(data);
    const key = blobKey('tree', id);
    const task = next++;
    keys.set(task, key);
    const done = new Promise<FromWorker>((resolve) => replies.set(task, resolve));
    handle({ type: 'put', task, key, data });
    return { key, done };
  };
  return { root, put, namedWhenReported };
}

async function tempFiles(root: string): Promise<string[]> {
  const files = await readdir(join(root, 'tree'), { recursive: true });
  return files.filter((f) => f.includes(TEMP_PREFIX));
}

describe.each([
  ['fsync', true],
  ['no fsync', false],
])('serveChunkJobs puts (%s)', (_name, fsync) => {
  it('reports each put once its object is named, and writes a stored object once', async () => {
    const { root, put, namedWhenReported } = await server(fsync);
    const pages = Array.from({ length: 40 }, (_, i) => pseudoRandomBytes(2000 + 37 * i, 50 + i));
    const sent = pages.map((p) => put(Buffer.from(p)));
    const replies = (await Promise.all(sent.map((s) => s.done))) as PutDone[];
    expect(replies.map((r) => r.type)).toEqual(pages.map(() => 'put-done'));
    expect(replies.every((r) => r.written)).toBe(true);
    expect(namedWhenReported).toEqual(pages.map(() => true));
    for (const [i, s] of sent.entries()) {
      const stored = await readFile(join(root, ...s.key.split('/')));
      // The envelope: a 2-byte header, then the page as it was (no compression here).
      expect(Buffer.from(stored.subarray(stored.length - pages[i]!.length)).equals(pages[i]!)).toBe(
        true,
      );
      expect(replies[i]!.storedBytes).toBe(stored.length);
    }
    expect(await tempFiles(root)).toEqual([]);

    // The same page again: found stored, not written, its stored size reported.
    const again = (await put(Buffer.from(pages[3]!)).done) as PutDone;
    expect(again).toMatchObject({ type: 'put-done', written: false });
    expect(again.storedBytes).toBe(replies[3]!.storedBytes);
  });

  it('reports a put it cannot write as an error naming the object, and goes on', async () => {
    const { root, put } = await server(fsync);
    const page = Buffer.from(pseudoRandomBytes(3000, 1));
    const first = put(Buffer.from(page));
    await first.done;
    // Its folder cannot be made: a plain file stands where the folder should be.
    const other = pseudoRandomBytes(3000, 2);
    const otherKey = blobKey('tree', new ObjectCodec().idOf(other));
    await writeFile(join(root, 'tree', otherKey.split('/')[1]!), 'in the way');
    const reply = await put(Buffer.from(other)).done;
    expect(reply.type).toBe('error');
    if (reply.type === 'error') expect(reply.error.message).toContain(otherKey);
    // Another put still works.
    const third = pseudoRandomBytes(3000, 3);
    const r = (await put(Buffer.from(third)).done) as PutDone;
    expect(r).toMatchObject({ type: 'put-done', written: true });
    expect(existsSync(join(root, ...first.key.split('/')))).toBe(true);
  });
});
