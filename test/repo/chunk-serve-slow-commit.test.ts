/**
 * serveChunkJobs' single-object puts use the group commit (two `syncfs` per commit)
 * until a commit is slow (a busy neighbour flushing gigabytes makes every `syncfs`
 * slow), then their own fsyncs for a while. `syncfs` is replaced here by a stand-in
 * whose delay the test sets, and which counts its calls.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { chunkerParams } from '../../src/chunker/params.js';
import type { FromWorker } from '../../src/repo/chunk-protocol.js';
import { serveChunkJobs } from '../../src/repo/chunk-serve.js';
import { ObjectCodec } from '../../src/repo/codec.js';
import { codecSetup } from '../../src/repo/codec-setup.js';
import { blobKey } from '../../src/repo/layout.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

const syncs = vi.hoisted(() => ({ calls: 0, delayMs: 0 }));

vi.mock('../../src/backends/syncfs.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/backends/syncfs.js')>();
  return {
    ...real,
    // No real `sync -f`: its time on a loaded machine would decide what counts as slow.
    syncFileSystem: async () => {
      syncs.calls++;
      await new Promise((resolve) => setTimeout(resolve, syncs.delayMs));
      return true;
    },
  };
});

async function server(slowPageCommitMs: number, groupCommitRetryMs = 60_000) {
  const root = await tempDir('cairn-repo-');
  const codec = new ObjectCodec();
  const replies = new Map<number, (m: FromWorker) => void>();
  const handle = serveChunkJobs(
    {
      ...codecSetup(codec),
      chunker: chunkerParams({ min: 4096, avg: 16384, max: 65536 }),
      direct: { root, fsync: true },
    },
    (message) => {
      if ('task' in message) replies.get(message.task)?.(message);
    },
    { slowPageCommitMs, groupCommitRetryMs },
  );
  let next = 0;
  const order: number[] = []; // tasks, as their answers come
  const put = async (seed: number): Promise<{ reply: FromWorker; key: string }> => {
    const data = pseudoRandomBytes(3000, seed);
    const key = blobKey('tree', codec.idOf(data));
    const task = next++;
    const reply = new Promise<FromWorker>((resolve) => replies.set(task, resolve));
    handle({ type: 'put', task, key, data });
    const answer = await reply;
    order.push(task);
    return { reply: answer, key };
  };
  return { root, put, order };
}

describe.runIf(process.platform === 'linux')('serveChunkJobs single puts and slow commits', () => {
  it('commits puts with syncfs while commits are quick', async () => {
    syncs.delayMs = 0;
    const { root, put } = await server(60_000); // no commit counts as slow here
    const before = syncs.calls;
    for (let seed = 1; seed <= 3; seed++) {
      const { reply, key } = await put(seed);
      expect(reply).toMatchObject({ type: 'put-done', written: true });
      expect(existsSync(join(root, ...key.split('/')))).toBe(true);
    }
    // Two syncfs per commit (bytes, then names), one commit per put here.
    expect(syncs.calls - before).toBe(6);
  });

  it('gives later puts their own fsyncs once a commit was slow', async () => {
    // Two syncfs of 60 ms each: slower than the 100 ms this server calls slow.
    syncs.delayMs = 60;
    const { root, put } = await server(100);
    const before = syncs.calls;
    expect((await put(11)).reply).toMatchObject({ type: 'put-done', written: true });
    expect(syncs.calls - before).toBe(2);
    syncs.delayMs = 0;
    for (let seed = 12; seed <= 14; seed++) {
      const { reply, key } = await put(seed);
      expect(reply).toMatchObject({ type: 'put-done', written: true });
      expect(existsSync(join(root, ...key.split('/')))).toBe(true);
    }
    expect(syncs.calls - before).toBe(2); // none since: fsyncs of their own
  });

  it('reports an object named by a batch still committing only once it is durable', async () => {
    syncs.delayMs = 100; // named after the first syncfs (100 ms), durable after the second
    const { put, order } = await server(60_000);
    const first = put(31);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const again = await put(31); // found named, its batch not yet durable
    expect(again.reply).toMatchObject({ type: 'put-done', written: false });
    expect((await first).reply).toMatchObject({ type: 'put-done', written: true });
    // Tasks 0 and 1: the second answered only after the first, once its commit ended.
    expect(order).toEqual([0, 1]);
  });

  it('tries the group commit again a while after a slow commit', async () => {
    syncs.delayMs = 60;
    const { put } = await server(100, 300);
    const before = syncs.calls;
    await put(21); // slow: own fsyncs for 300 ms
    syncs.delayMs = 0;
    await put(22);
    expect(syncs.calls - before).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await put(23)).reply).toMatchObject({ type: 'put-done', written: true });
    expect(syncs.calls - before).toBe(4); // committed with syncfs again
  });
});
