/**
 * `sync` between local and memory repositories: complete copies, nothing sent twice,
 * increments that cost what changed, refusal of mismatched chunking, interruption.
 * (The same against S3 is in test/s3/sync.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { ObjectInfo } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { AbortedError, MismatchError, UsageError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import type { SyncEvent } from '../../src/ops/events.js';
import { restore } from '../../src/ops/restore.js';
import { sync } from '../../src/ops/sync.js';
import { paramsOf } from '../../src/repo/config.js';
import { listLocks } from '../../src/repo/locks.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';
import { describeTree, tempDir, writeTree } from '../helpers/fs.js';
import { localRepo, memoryRepo, TINY_CHUNKS } from '../helpers/repo.js';
import {
  changeDeepFile,
  expectedIncrement,
  RecordingBackend,
  writeSource,
} from '../helpers/sync-fixtures.js';

/**
 * A source repository with one backup, and an empty destination with the same params:
 * local directories with `local`, else memory (faster: no fsync per object).
 */
async function setup(options: { local?: boolean } = {}) {
  const src = await tempDir();
  await writeSource(src);
  const source = options.local ? (await localRepo()).repo : await memoryRepo();
  const first = await backup(source, { paths: [src], statCacheDir: false, tags: ['v1'] });
  const recorder = new RecordingBackend(
    options.local ? new LocalBackend(await tempDir('cairn-dst-')) : new MemoryBackend(),
  );
  const dest = await initRepository(recorder, paramsOf(source.config));
  recorder.clear(); // the config
  return { src, source, dest, recorder, first };
}

async function restored(repo: Parameters<typeof restore>[0], id: string): Promise<string[]> {
  const target = await tempDir();
  await restore(repo, id, await repo.snapshots.load(id), { target });
  return describeTree(target);
}

describe('sync', () => {
  it('copies a snapshot completely (local to local), and a second sync sends nothing', async () => {
    const { src, source, dest, recorder, first } = await setup({ local: true });
    const events: SyncEvent[] = [];
    const report = await sync(source, dest, { onEvent: (e) => events.push(e) });
    expect(report.copied).toEqual([first.snapshotId]);
    expect(report.skipped).toEqual([]);
    expect(report.blobsSkipped).toBe(0);
    // Everything the snapshot references was sent, once.
    const check1 = await check(dest, { readData: true });
    expect(check1.problems).toEqual([]);
    expect(check1.unreferencedBlobs).toBe(0);
    expect(report.dataBlobsSent).toBe(check1.dataBlobs);
    expect(report.treeBlobsSent).toBe(check1.trees);
    expect(recorder.keys('data/')).toHaveLength(report.dataBlobsSent);
    expect(recorder.keys('tree/')).toHaveLength(report.treeBlobsSent);
    // The record is the last object copied, after every blob.
    expect(recorder.copied.at(-1)).toBe(`snapshots/${first.snapshotId}`);
    expect(recorder.copied).toHaveLength(report.blobsSent + 1);
    expect(report.requests.destination.put).toBe(report.blobsSent + 1 + recorder.derivedPuts);
    expect(report.bytesSent).toBe(recorder.copiedBytes);
    expect(events[0]).toMatchObject({ type: 'start', snapshots: [first.snapshotId] });
    expect(events.filter((e) => e.type === 'snapshot')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'progress', snapshotsDone: 1, snapshotsTotal: 1 });
    expect(await restored(dest, first.snapshotId!)).toEqual(await describeTree(src));
    // A shared lock on the destination was held from before the first copy (so a prune
    // there postpones its deletions) and is gone afterwards.
    expect(recorder.written[0]).toMatch(/^locks\//);
    expect(recorder.keys('locks/')).toHaveLength(1);
    expect(await listLocks(dest.backend)).toEqual([]);

    recorder.clear();
    const again = await sync(source, dest);
    expect(again).toMatchObject({ copied: [], skipped: [first.snapshotId], blobsSent: 0 });
    expect(again.requests.destination).toMatchObject({ put: 0, stat: 0, get: 0, list: 1 });
    expect(again.requests.source).toMatchObject({ put: 0, get: 0, list: 1 });
    expect(recorder.written.filter((k) => !k.startsWith('locks/'))).toEqual([]);
  });

  it('passes over snapshots the source cannot give whole, naming them, and copies the rest', async () => {
    const source = await memoryRepo();
    const dataKeys = async () => {
      const keys: string[] = [];
      for await (const info of source.backend.list('data/')) keys.push(info.key);
      return new Set(keys);
    };
    const one = await tempDir();
    await writeTree(one, { 'a.txt': 'the first snapshot alone has this\n'.repeat(40) });
    const damaged = await backup(source, { paths: [one], statCacheDir: false });
    const firstKeys = await dataKeys();
    const two = await tempDir();
    await writeTree(two, { 'b.txt': 'the second snapshot has other content\n'.repeat(40) });
    const healthy = await backup(source, { paths: [two], statCacheDir: false });
    await source.backend.delete([...firstKeys][0]!);
    const garbage = new TextEncoder().encode('not a snapshot record');
    const garbageId = source.codec.idOf(garbage);
    await source.backend.put(`snapshots/${garbageId}`, await source.codec.seal(garbage));
    const dest = await initRepository(new MemoryBackend(), paramsOf(source.config));
    const events: SyncEvent[] = [];
    const report = await sync(source, dest, { onEvent: (e) => events.push(e) });
    expect(report.copied).toEqual([healthy.snapshotId]);
    expect(report.failed.map((f) => f.id).sort()).toEqual([damaged.snapshotId!, garbageId].sort());
    const byId = new Map(report.failed.map((f) => [f.id, f]));
    expect(byId.get(damaged.snapshotId!)).toMatchObject({ code: 'not-found' });
    expect(byId.get(damaged.snapshotId!)!.message).toMatch(
      /is not copied: data blob \w+ is missing/,
    );
    expect(byId.get(garbageId)).toMatchObject({ code: 'format' });
    expect(events.filter((e) => e.type === 'warning')).toHaveLength(2);
    expect(await dest.snapshots.ids()).toEqual([healthy.snapshotId]);
    expect((await check(dest, {})).problems).toEqual([]);
    // With a filter, a record that cannot be read might match: it fails as it does here.
    const host = healthy.snapshot.hostname;
    const filtered = await initRepository(new MemoryBackend(), paramsOf(source.config));
    const byHost = await sync(source, filtered, { filter: { hostname: host } });
    expect(byHost.copied).toEqual([healthy.snapshotId]);
    expect(byHost.failed.map((f) => f.id).sort()).toEqual([damaged.snapshotId!, garbageId].sort());
    const none = await sync(source, filtered, { filter: { hostname: 'no such host' } });
    expect(none.failed.map((f) => f.id)).toEqual([garbageId]);
  });

  it('sends only the changed chunks, the changed tree path and the record', async () => {
    const { src, source, dest, recorder, first } = await setup();
    await sync(source, dest);
    await changeDeepFile(src);
    const second = await backup(source, { paths: [src], statCacheDir: false });
    const expected = await expectedIncrement(source, first.snapshot.tree, second.snapshot.tree);
    expect(expected.data).toBeGreaterThan(0);
    recorder.clear();
    const report = await sync(source, dest);
    expect(report.copied).toEqual([second.snapshotId]);
    expect(report.skipped).toEqual([first.snapshotId]);
    expect(report.dataBlobsSent).toBe(expected.data);
    expect(report.treeBlobsSent).toBe(expected.trees);
    expect(recorder.keys('data/')).toHaveLength(expected.data);
    expect(recorder.keys('tree/')).toHaveLength(expected.trees);
    expect(recorder.keys('snapshots/')).toEqual([`snapshots/${second.snapshotId}`]);
    expect(report.requests.destination.put).toBe(
      expected.data + expected.trees + 1 + recorder.derivedPuts,
    );
    // Source reads: the record, the 4 changed nodes, the new chunks; nothing else.
    expect(report.requests.source.get).toBe(1 + expected.trees + expected.data);
    // Unchanged siblings were skipped as whole subtrees, and counted.
    expect(report.blobsSkipped).toBeGreaterThan(0);
    expect(report.bytesSkipped).toBeGreaterThan(0);
    expect((await check(dest, { readData: true })).problems).toEqual([]);
    expect(await restored(dest, second.snapshotId!)).toEqual(await describeTree(src));
  });

  it('dry run counts what a real run sends and writes nothing', async () => {
    const { source, dest, recorder } = await setup();
    const dry = await sync(source, dest, { dryRun: true });
    expect(recorder.written).toEqual([]);
    expect(await dest.snapshots.ids()).toEqual([]);
    const real = await sync(source, dest);
    expect(dry.blobsSent).toBe(real.blobsSent);
    expect(dry.dataBlobsSent).toBe(real.dataBlobsSent);
    expect(dry.bytesSent).toBe(real.bytesSent);
    expect(dry.copied).toEqual(real.copied);
  });

  it('copies only the selected snapshots', async () => {
    const { src, source, dest, first } = await setup();
    await changeDeepFile(src);
    const second = await backup(source, { paths: [src], statCacheDir: false, tags: ['v2'] });
    const report = await sync(source, dest, { snapshots: ['tag:v2'] });
    expect(report.copied).toEqual([second.snapshotId]);
    expect(await dest.snapshots.ids()).toEqual([second.snapshotId]);
    const rest = await sync(source, dest);
    expect(rest.copied).toEqual([first.snapshotId]);
    // Most of the first snapshot was already there through the second.
    expect(rest.blobsSkipped).toBeGreaterThan(0);
    expect((await check(dest)).problems).toEqual([]);
  });

  it('refuses repositories whose chunking differs, naming the fix', async () => {
    const { source } = await setup();
    const other = await initRepository(new MemoryBackend(), {
      chunker: { ...TINY_CHUNKS, avg: 512 },
    });
    const err = await sync(source, other).catch((e) => e);
    expect(err).toBeInstanceOf(MismatchError);
    expect(err.message).toMatch(/chunker parameters differ/);
    expect(err.message).toContain(`init --copy-params-from ${source.location}`);
    const seeded = await initRepository(new MemoryBackend(), {
      chunker: { ...TINY_CHUNKS, seed: 7 },
    });
    await expect(sync(source, seeded)).rejects.toBeInstanceOf(MismatchError);
  });

  it('an interrupted sync leaves no snapshot, and the rerun sends nothing twice', async () => {
    const { src, source, dest, recorder, first } = await setup();
    const full = await sync(
      source,
      await initRepository(new MemoryBackend(), paramsOf(source.config)),
    );
    const controller = new AbortController();
    recorder.abortAfter = { count: Math.floor(full.blobsSent / 2), controller };
    await expect(
      sync(source, dest, { signal: controller.signal, transfers: 2 }),
    ).rejects.toBeInstanceOf(AbortedError);
    recorder.abortAfter = undefined;
    const firstRun = [...recorder.copied];
    expect(firstRun.length).toBeGreaterThan(0);
    expect(firstRun.length).toBeLessThan(full.blobsSent);
    expect(await dest.snapshots.ids()).toEqual([]);
    expect(firstRun.some((k) => k.startsWith('snapshots/'))).toBe(false);

    recorder.clear();
    const rerun = await sync(source, dest);
    expect(rerun.copied).toEqual([first.snapshotId]);
    const secondRun = recorder.copied;
    expect(secondRun.filter((k) => firstRun.includes(k))).toEqual([]);
    expect(firstRun.length + secondRun.length).toBe(full.blobsSent + 1);
    expect((await check(dest, { readData: true })).problems).toEqual([]);
    expect(await restored(dest, first.snapshotId!)).toEqual(await describeTree(src));
  });

  it('copies split directories (index nodes) and shares subtrees between snapshots', async () => {
    const src = await tempDir();
    const wide: Record<string, string> = {};
    for (let i = 0; i < 200; i++) wide[`entry-${String(i).padStart(4, '0')}`] = `content ${i}`;
    await writeTree(src, { wide, other: { a: 'x'.repeat(3000) } });
    const small = { min: 1024, target: 2048, max: 4096 };
    const source = await initRepository(new MemoryBackend(), {
      chunker: TINY_CHUNKS,
      inlineMax: 64,
      paging: small,
    });
    const { snapshotId } = await backup(source, { paths: [src], statCacheDir: false });
    // A second snapshot of the same tree: only its record is new.
    const again = await backup(source, { paths: [src], statCacheDir: false });
    expect(again.snapshot.tree).toBe((await source.snapshots.load(snapshotId!)).tree);
    const recorder = new RecordingBackend(new MemoryBackend());
    await initRepository(recorder, paramsOf(source.config));
    const dest = await openRepositoryIn(recorder);
    expect(dest.config.paging).toEqual(small);
    const report = await sync(source, dest, { transfers: 3, checkers: 2 });
    expect(report.copied).toHaveLength(2);
    const checked = await check(dest);
    expect(checked.problems).toEqual([]);
    expect(checked.trees).toBeGreaterThan(4); // the wide directory is split
    // Every node once: the second snapshot's tree was found present.
    expect(report.treeBlobsSent).toBe(checked.trees);
    expect(recorder.copied).toHaveLength(report.blobsSent + 2);
    expect(await restored(dest, snapshotId!)).toEqual(await describeTree(src));
  });

  it('reads from a source that cannot list when given full snapshot ids', async () => {
    const { source, dest, first } = await setup();
    class Unlistable extends ForwardingBackend {
      override get capabilities() {
        return { ...this.inner.capabilities, listable: false, writable: false };
      }
      override list(): AsyncIterable<ObjectInfo> {
        throw new UsageError('cannot list here');
      }
    }
    const http = await openRepositoryIn(new Unlistable(source.backend));
    const report = await sync(http, dest, { snapshots: [first.snapshotId!] });
    expect(report.copied).toEqual([first.snapshotId]);
    // A full id is used as it is: no listing, and its record is read and verified.
    expect(report.requests.source.list).toBe(0);
    expect((await check(dest)).problems).toEqual([]);
    // A full id that is not there is a wrong id (exit 1), not a damaged source.
    const wrong = 'f'.repeat(64);
    await expect(sync(http, dest, { snapshots: [wrong] })).rejects.toMatchObject({
      code: 'not-found',
      message: `no snapshot ${wrong} in ${http.location}`,
    });
    // A read-only destination is refused before anything happens.
    await expect(sync(dest, http)).rejects.toThrow(/read-only/);
  });
});
