/**
 * Progress events carry what a progress line needs: a large file's bytes as they are
 * read (not only once the file is done), and for check and sync the totals that give a
 * percent and an ETA.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import {
  type BackupEvent,
  type CheckEvent,
  type SyncEvent,
  Throttle,
} from '../../src/ops/events.js';
import { sync } from '../../src/ops/sync.js';
import { paramsOf } from '../../src/repo/config.js';
import { initRepository } from '../../src/repo/repository.js';
import { pseudoRandomBytes, tempDir, writeTree } from '../helpers/fs.js';

/** Chunks of about 16 KiB: a 10 MiB file spans three 4 MiB read windows. */
const CHUNKS = { min: 4096, avg: 16384, max: 65536, level: 1 };
const BIG = 10 * 1024 * 1024;

// Every event the operations would throttle is emitted, so the tests see each step.
const due = Throttle.prototype.due;
beforeEach(() => {
  Throttle.prototype.due = () => true;
});
afterEach(() => {
  Throttle.prototype.due = due;
});

async function repoWithChunks() {
  return initRepository(new MemoryBackend(), { chunker: CHUNKS, inlineMax: 32 });
}

describe('progress events', () => {
  it("backup: a large file's bytes advance the progress before the file is done", async () => {
    const repo = await repoWithChunks();
    const dir = await tempDir('cairn-progress-');
    const file = join(dir, 'big.bin');
    await writeFile(file, randomBytes(BIG));
    const events: BackupEvent[] = [];
    await backup(repo, {
      paths: [file],
      statCacheDir: false,
      verbose: true,
      workers: 0,
      onEvent: (e) => events.push(e),
    });
    const done = events.findIndex((e) => e.type === 'file');
    expect(done).toBeGreaterThan(0);
    const before = events.slice(0, done).flatMap((e) => (e.type === 'progress' ? [e.bytes] : []));
    // Bytes rise while the file is read: at least two steps below its size.
    const partial = before.filter((b) => b > 0 && b < BIG);
    expect(partial.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < before.length; i++)
      expect(before[i]).toBeGreaterThanOrEqual(before[i - 1]!);
    const last = events.filter((e) => e.type === 'progress').at(-1);
    expect(last).toMatchObject({ files: 1, bytes: BIG });
  });
});

describe('progress totals', () => {
  async function twoSnapshots() {
    const repo = await repoWithChunks();
    const dir = await tempDir('cairn-progress-');
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 6; i++) files[`f${i}.bin`] = pseudoRandomBytes(60_000 + 1000 * i, 20 + i);
    await writeTree(dir, { a: files, 'small.txt': 'hello\n' });
    const first = await backup(repo, { paths: [dir], statCacheDir: false });
    await writeFile(join(dir, 'a', 'f9.bin'), pseudoRandomBytes(90_000, 99));
    const second = await backup(repo, { paths: [dir], statCacheDir: false });
    return { repo, first, second };
  }

  it('check --read-data: progress names the blobs and bytes to read, and reaches them', async () => {
    const { repo } = await twoSnapshots();
    const events: CheckEvent[] = [];
    const report = await check(repo, { readData: true, onEvent: (e) => events.push(e) });
    const reading = events.filter((e) => e.type === 'progress' && e.phase === 'read');
    expect(reading.length).toBeGreaterThan(1);
    for (const e of reading) {
      expect(e).toMatchObject({ totalBlobs: report.dataBlobsRead, totalBytes: report.bytesRead });
    }
    expect(reading.at(-1)).toMatchObject({
      blobsRead: report.dataBlobsRead,
      bytes: report.bytesRead,
    });
    // Before any data is read, a reader of the events knows there is some to read.
    expect(reading[0]).toMatchObject({ blobsRead: 0, bytes: 0 });
    expect(report.bytesRead).toBeGreaterThan(0);
  });

  it('check --read-data-subset: a bucket has exact totals, a random sample its blobs', async () => {
    const { repo } = await twoSnapshots();
    const bucket: CheckEvent[] = [];
    const b = await check(repo, { readDataSubset: '1/2', onEvent: (e) => bucket.push(e) });
    expect(bucket.filter((e) => e.type === 'progress').at(-1)).toMatchObject({
      phase: 'read',
      totalBlobs: b.dataBlobsRead,
      totalBytes: b.bytesRead,
      blobsRead: b.dataBlobsRead,
    });
    const sample: CheckEvent[] = [];
    const s = await check(repo, { readDataSubset: '30%', onEvent: (e) => sample.push(e) });
    const last = sample.filter((e) => e.type === 'progress').at(-1);
    expect(last).toMatchObject({ phase: 'read', totalBlobs: s.dataBlobsRead });
    expect(last).not.toHaveProperty('totalBytes');
  });

  it('sync: progress carries the content to copy in all, and reaches it', async () => {
    const { repo, first, second } = await twoSnapshots();
    const dest = await initRepository(new MemoryBackend(), paramsOf(repo.config));
    const events: SyncEvent[] = [];
    await sync(repo, dest, { onEvent: (e) => events.push(e) });
    const total = first.snapshot.summary.bytes + second.snapshot.summary.bytes;
    const progress = events.flatMap((e) => (e.type === 'progress' ? [e] : []));
    expect(progress.length).toBeGreaterThan(2);
    for (const e of progress) expect(e.totalBytes).toBe(total);
    const bytes = progress.map((e) => e.bytes);
    for (let i = 1; i < bytes.length; i++) expect(bytes[i]).toBeGreaterThanOrEqual(bytes[i - 1]!);
    expect(bytes.some((b) => b > 0 && b < first.snapshot.summary.bytes)).toBe(true);
    expect(bytes.at(-1)).toBe(total);
  });
});
