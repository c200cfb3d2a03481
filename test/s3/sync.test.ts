/**
 * Repositories on a real S3 server (Ceph RGW on loopback, one per file, see
 * test/helpers/rgw.ts): backup/restore round trip, sync local -> S3 and S3 -> local,
 * increments that cost what changed (counted through CountingBackend and the written
 * keys), interrupted syncs, another client writing to the same prefix, and a fault
 * proxy that resets connections and answers 500/503. Nothing about S3 is mocked.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.js';
import { CountingBackend } from '../../src/backends/counting.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RetryBackend } from '../../src/backends/retry.js';
import { S3Backend } from '../../src/backends/s3.js';
import { AbortedError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import { restore } from '../../src/ops/restore.js';
import { sync } from '../../src/ops/sync.js';
import { paramsOf } from '../../src/repo/config.js';
import {
  initRepository,
  type OpenOptions,
  openRepositoryIn,
  type Repository,
} from '../../src/repo/repository.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { describeTree, tempDir } from '../helpers/fs.js';
import { memoryRepo } from '../helpers/repo.js';
import {
  createTestBucket,
  type RgwServer,
  rgwServer,
  stopRgw,
  type TestBucket,
} from '../helpers/rgw.js';
import {
  changeDeepFile,
  expectedIncrement,
  RecordingBackend,
  writeSource,
} from '../helpers/sync-fixtures.js';

let server: RgwServer;
let bucket: TestBucket;
const toClose: Repository[] = [];

beforeAll(async () => {
  server = await rgwServer();
  if (server.startMs !== undefined) {
    process.stderr.write(`[rgw] ${server.endpoint} started in ${server.startMs} ms\n`);
  }
  bucket = await createTestBucket(server, 's3-sync');
}, 180_000);

afterAll(async () => {
  await Promise.all(toClose.map((r) => r.close().catch(() => undefined)));
  await bucket?.remove();
  await stopRgw();
}, 60_000);

const prefix = () => `r-${randomBytes(4).toString('hex')}`;

/** Opens (or with `params`, creates) the repository under `backend`, closed after all tests. */
async function repoIn(
  backend: Backend,
  open: OpenOptions,
  params?: Parameters<typeof initRepository>[1],
): Promise<Repository> {
  const repo = params
    ? await initRepository(backend, params, open)
    : await openRepositoryIn(backend, open);
  toClose.push(repo);
  return repo;
}

async function restored(repo: Repository, id: string): Promise<string[]> {
  const target = await tempDir();
  await restore(repo, id, await repo.snapshots.load(id), { target });
  return describeTree(target);
}

/** A memory source repository holding one backup of the fixture tree. */
async function sourceWithBackup() {
  const data = await tempDir();
  await writeSource(data);
  const source = await memoryRepo();
  const first = await backup(source, { paths: [data], statCacheDir: false });
  return { data, source, first };
}

describe('S3 repositories', () => {
  it('backup and restore round trip; an unchanged re-backup asks nothing per chunk', async () => {
    const data = await tempDir();
    await writeSource(data);
    const recorder = new RecordingBackend(bucket.open(prefix()));
    const counting = new CountingBackend(recorder);
    const cacheDir = await tempDir();
    const repo = await repoIn(
      counting,
      { cacheDir },
      { chunker: { min: 256, avg: 1024, max: 4096 }, inlineMax: 64 },
    );
    expect(repo.inventory).toBeDefined(); // auto: on for S3
    const first = await backup(repo, { paths: [data], statCacheDir: false });
    expect(await restored(repo, first.snapshotId!)).toEqual(await describeTree(data));
    counting.reset();
    recorder.clear();
    const second = await backup(repo, { paths: [data], statCacheDir: false });
    expect(first.snapshot.summary.blobsAdded).toBeGreaterThan(20);
    expect(second.snapshot.summary.blobsAdded).toBe(0);
    // Every chunk and node is answered by the inventory: no HEAD but the lock's own
    // (Lock.confirm, before the record), only the record written.
    expect(counting.counts.stat).toBe(1);
    expect(recorder.copied).toEqual([`snapshots/${second.snapshotId}`]);
    expect((await check(repo, { readData: true })).problems).toEqual([]);
  });

  it('syncs local -> S3 completely, then sends nothing, then only what changed', async () => {
    const { data, source, first } = await sourceWithBackup();
    const p = prefix();
    const cacheDir = await tempDir();
    const recorder = new RecordingBackend(bucket.open(p));
    const dest = await repoIn(recorder, { cacheDir }, paramsOf(source.config));
    recorder.clear();
    const full = await sync(source, dest);
    expect(full.copied).toEqual([first.snapshotId]);
    expect(recorder.copied).toHaveLength(full.blobsSent + 1);
    expect(recorder.copied.at(-1)).toBe(`snapshots/${first.snapshotId}`);
    // A HEAD per new tree node (a tree miss is confirmed), none per chunk.
    expect(full.requests.destination.stat).toBe(full.treeBlobsSent);
    expect(full.requests.destination.put).toBe(full.blobsSent + 1 + recorder.derivedPuts);

    // A second sync, from a new process's view (reopened, inventory persisted): nothing.
    await dest.close();
    const reopened = await repoIn(new CountingBackend(bucket.open(p)), { cacheDir });
    const again = await sync(source, reopened);
    expect(again).toMatchObject({ copied: [], skipped: [first.snapshotId], blobsSent: 0 });
    expect(again.requests.destination).toMatchObject({ put: 0, stat: 0, get: 0, list: 1 });

    // One file changed: its new chunks, the 4 nodes on its path, the record.
    await changeDeepFile(data);
    const second = await backup(source, { paths: [data], statCacheDir: false });
    const expected = await expectedIncrement(source, first.snapshot.tree, second.snapshot.tree);
    await reopened.close();
    const recorder2 = new RecordingBackend(bucket.open(p));
    const dest2 = await repoIn(recorder2, { cacheDir });
    const step = await sync(source, dest2);
    expect(step.copied).toEqual([second.snapshotId]);
    expect(step.dataBlobsSent).toBe(expected.data);
    expect(step.treeBlobsSent).toBe(expected.trees);
    expect(recorder2.keys('data/')).toHaveLength(expected.data);
    expect(recorder2.keys('tree/')).toHaveLength(expected.trees);
    expect(recorder2.keys('snapshots/')).toEqual([`snapshots/${second.snapshotId}`]);
    // Requests to S3: a HEAD per changed node (misses are confirmed for trees), a PUT
    // per blob sent and the record; no HEAD per chunk, no blob read back.
    expect(step.requests.destination.stat).toBe(expected.trees);
    expect(step.requests.destination.put).toBe(
      expected.data + expected.trees + 1 + recorder2.derivedPuts,
    );
    expect(recorder2.copied).toHaveLength(expected.data + expected.trees + 1);
    expect(await restored(dest2, second.snapshotId!)).toEqual(await describeTree(data));
  });

  it('syncs S3 -> local (memory) and the copy checks and restores', async () => {
    const { data, source, first } = await sourceWithBackup();
    const s3 = await repoIn(
      bucket.open(prefix()),
      { cacheDir: await tempDir() },
      paramsOf(source.config),
    );
    await sync(source, s3);
    const local = await initRepository(new MemoryBackend(), paramsOf(s3.config));
    const report = await sync(s3, local, { transfers: 4 });
    expect(report.copied).toEqual([first.snapshotId]);
    // Reads from S3: one listing of snapshots, then GETs only (record, nodes, chunks).
    expect(report.requests.source).toMatchObject({ list: 1, put: 0, stat: 0 });
    expect(report.requests.source.get).toBe(report.blobsSent + 1);
    expect((await check(local, { readData: true })).problems).toEqual([]);
    expect(await restored(local, first.snapshotId!)).toEqual(await describeTree(data));
  });

  it('an interrupted sync into S3 leaves no snapshot; the rerun sends nothing twice', async () => {
    const { data, source, first } = await sourceWithBackup();
    const cacheDir = await tempDir();
    const recorder = new RecordingBackend(bucket.open(prefix()));
    const dest = await repoIn(recorder, { cacheDir }, paramsOf(source.config));
    recorder.clear();
    const controller = new AbortController();
    recorder.abortAfter = { count: 30, controller };
    await expect(sync(source, dest, { signal: controller.signal })).rejects.toBeInstanceOf(
      AbortedError,
    );
    recorder.abortAfter = undefined;
    const firstRun = [...recorder.copied];
    expect(await dest.snapshots.ids()).toEqual([]);
    recorder.clear();
    const rerun = await sync(source, dest);
    expect(rerun.copied).toEqual([first.snapshotId]);
    expect(recorder.copied.filter((k) => firstRun.includes(k))).toEqual([]);
    expect(recorder.copied.at(-1)).toBe(`snapshots/${first.snapshotId}`);
    expect((await check(dest, { readData: true })).problems).toEqual([]);
    expect(await restored(dest, first.snapshotId!)).toEqual(await describeTree(data));
  });

  it('stays correct when another client wrote to the same prefix after our listing', async () => {
    const { data, source, first } = await sourceWithBackup();
    const p = prefix();
    // Client B lists the (empty) repository first, so its inventory knows nothing.
    const b = await repoIn(
      new RecordingBackend(bucket.open(p)),
      { cacheDir: await tempDir() },
      paramsOf(source.config),
    );
    expect((await sync(source, b, { dryRun: true })).blobsSent).toBeGreaterThan(0);
    expect(b.inventory!.fresh).toBe(true);
    // Client A (its own cache) syncs the first snapshot.
    const a = await repoIn(bucket.open(p), { cacheDir: await tempDir() });
    await sync(source, a);
    // B now syncs both: the first is skipped, the second costs only what changed,
    // although B's inventory predates everything A wrote.
    await changeDeepFile(data);
    const second = await backup(source, { paths: [data], statCacheDir: false });
    const expected = await expectedIncrement(source, first.snapshot.tree, second.snapshot.tree);
    const recorder = b.backend as RecordingBackend;
    recorder.clear();
    const report = await sync(source, b);
    expect(report.skipped).toEqual([first.snapshotId]);
    expect(report.copied).toEqual([second.snapshotId]);
    expect(recorder.keys('data/')).toHaveLength(expected.data);
    expect(recorder.keys('tree/')).toHaveLength(expected.trees);
    expect(report.dataBlobsSent).toBe(expected.data);
    expect((await check(b)).problems).toEqual([]);
  });

  it('backup and sync complete through connection resets and 500/503 answers', async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      resetRate: 0.1,
      errorRate: 0.1,
      seed: 7,
    });
    try {
      const viaProxy = (p: string) =>
        new RetryBackend(
          S3Backend.fromUrl(`s3:${proxy.url}/${bucket.bucket}/${p}`, {
            credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
            region: server.region,
          }),
          { retries: 10, baseDelayMs: 5, maxDelayMs: 100 },
        );
      const data = await tempDir();
      await writeSource(data);
      const params = { chunker: { min: 256, avg: 1024, max: 4096 }, inlineMax: 64 };
      const first = await repoIn(viaProxy(prefix()), { cacheDir: await tempDir() }, params);
      const { snapshotId } = await backup(first, { paths: [data], statCacheDir: false });
      const second = await repoIn(
        viaProxy(prefix()),
        { cacheDir: await tempDir() },
        paramsOf(first.config),
      );
      const report = await sync(first, second, { transfers: 4, checkers: 4 });
      expect(report.copied).toEqual([snapshotId]);
      const checked = await check(second, { readData: true });
      expect(checked.problems).toEqual([]);
      expect(checked.dataBlobs).toBeGreaterThan(10);
      expect(await restored(second, snapshotId!)).toEqual(await describeTree(data));
      expect(proxy.stats.errors).toBeGreaterThan(3);
      expect(proxy.stats.resets + proxy.stats.truncated).toBeGreaterThan(3);
    } finally {
      await proxy.close();
    }
  });
});
