import { appendFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import type { BackupEvent } from '../../src/ops/events.js';
import { openRepositoryIn } from '../../src/repo/repository.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

/**
 * Makes files old enough for the stat cache to trust them: an old mtime, and a pause so
 * their ctime (which utimes sets to now) is outside the 100 ms racy window.
 */
async function age(paths: string[]): Promise<void> {
  for (const p of paths) await utimes(p, 1_600_000_000.5, 1_600_000_000.5);
  await new Promise((r) => setTimeout(r, 150));
}

describe('incremental backup', () => {
  it('reads no unchanged file, and only the changed one', async () => {
    const src = await tempDir();
    const files = Array.from({ length: 20 }, (_, i) => join(src, `f${i}`));
    for (const [i, f] of files.entries()) await writeFile(f, pseudoRandomBytes(3000 + i, i));
    await age(files);
    const { repo } = await localRepo();
    const cacheDir = await tempDir();
    const first = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(first.snapshot.summary.filesNew).toBe(20);

    const events: BackupEvent[] = [];
    const second = await backup(repo, {
      paths: [src],
      statCacheDir: cacheDir,
      verbose: true,
      onEvent: (e) => events.push(e),
    });
    expect(second.snapshot.summary.filesUnchanged).toBe(20);
    expect(first.bytesRead).toBeGreaterThan(60_000);
    expect(second.bytesRead).toBe(0);
    expect(second.snapshot.summary.blobsAdded).toBe(0);
    expect(second.snapshot.tree).toBe(first.snapshot.tree);
    expect(second.snapshot.parent).toBe(first.snapshotId);
    // nothing was read from the source
    const statuses = events
      .filter((e) => e.type === 'file')
      .map((e) => (e as { status: string }).status);
    expect(new Set(statuses)).toEqual(new Set(['unchanged']));

    await appendFile(files[3]!, 'more');
    await age([files[3]!]);
    const third = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(third.snapshot.summary.filesChanged).toBe(1);
    expect(third.snapshot.summary.filesUnchanged).toBe(19);
    expect(third.bytesRead).toBe(3000 + 3 + 4); // only the changed file: f3 plus 'more'
    expect(third.snapshot.tree).not.toBe(first.snapshot.tree);

    // --force reads every file, and still says which ones changed.
    const forced = await backup(repo, { paths: [src], statCacheDir: cacheDir, force: true });
    expect(forced.snapshot.summary).toMatchObject({
      filesNew: 0,
      filesChanged: 0,
      filesUnchanged: 20,
    });
    expect(forced.bytesRead).toBe(third.snapshot.summary.bytes);
    expect(forced.snapshot.tree).toBe(third.snapshot.tree);

    // A changed small file, a changed chunked one, a new one.
    const big = join(src, 'big');
    await writeFile(big, pseudoRandomBytes(100_000, 50));
    await age([big]);
    await backup(repo, { paths: [src], statCacheDir: cacheDir });
    await appendFile(files[5]!, 'x');
    await appendFile(big, 'y');
    await writeFile(join(src, 'new'), 'n');
    await age([files[5]!, big, join(src, 'new')]);
    const again = await backup(repo, { paths: [src], statCacheDir: cacheDir, force: true });
    expect(again.snapshot.summary).toMatchObject({
      files: 22,
      filesNew: 1,
      filesChanged: 2,
      filesUnchanged: 19,
    });
  });

  it('counts bytes read: zero when nothing changed', async () => {
    const src = await tempDir();
    const f = join(src, 'big');
    await writeFile(f, pseudoRandomBytes(200_000, 9));
    await age([f]);
    const { repo } = await localRepo();
    const cacheDir = await tempDir();
    const a = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(a.snapshot.summary.filesNew).toBe(1);
    const b = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(b.snapshot.summary.filesUnchanged).toBe(1);
    expect(b.snapshot.summary.bytesAdded).toBe(0);
  });

  it('re-reads a recently modified file (timestamps too coarse to trust)', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'fresh'), 'new content');
    const { repo } = await localRepo();
    const cacheDir = await tempDir();
    await backup(repo, { paths: [src], statCacheDir: cacheDir });
    const b = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(b.snapshot.summary.filesChanged).toBe(1);
  });

  it('does not trust the cache when its trees and chunks are gone (as after a prune)', async () => {
    const src = await tempDir();
    const f = join(src, 'f');
    await writeFile(f, pseudoRandomBytes(5000, 4));
    await age([f]);
    const { repo } = await localRepo();
    const cacheDir = await tempDir();
    await backup(repo, { paths: [src], statCacheDir: cacheDir });
    for await (const info of repo.backend.list('tree/')) await repo.backend.delete(info.key);
    for await (const info of repo.backend.list('data/')) await repo.backend.delete(info.key);
    const fresh = await (await import('../../src/repo/repository.js')).openRepositoryIn(
      repo.backend,
    );
    const b = await backup(fresh, { paths: [src], statCacheDir: cacheDir });
    // Read again, and stored again, but not changed: its fingerprint still matches.
    expect(b.snapshot.summary.filesUnchanged).toBe(1);
    expect(b.snapshot.summary.filesChanged).toBe(0);
    expect(b.bytesRead).toBe(5000);
    expect(b.snapshot.summary.blobsAdded).toBeGreaterThan(0);
  });

  it('reads the files whose chunks a prune removed several at a time, in order', async () => {
    const src = await tempDir();
    const files = Array.from({ length: 24 }, (_, i) => join(src, `f${String(i).padStart(2, '0')}`));
    for (const [i, f] of files.entries()) await writeFile(f, pseudoRandomBytes(40_000, 100 + i));
    await age(files);
    // Chunks larger than the files: one new chunk, so one put, per file.
    const { repo } = await localRepo({
      chunker: { min: 65536, avg: 131072, max: 262144, level: 1 },
    });
    const cacheDir = await tempDir();
    const first = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    for await (const info of repo.backend.list('tree/')) await repo.backend.delete(info.key);
    for await (const info of repo.backend.list('data/')) await repo.backend.delete(info.key);
    // Each new chunk takes a while to store: one file at a time (one commit each, on a
    // local repository) took 15 times as long as the first backup.
    let inFlight = 0;
    let most = 0;
    class SlowPuts extends ForwardingBackend {
      override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
        if (!key.startsWith('data/')) return this.inner.put(key, data, options);
        most = Math.max(most, ++inFlight);
        try {
          await new Promise((r) => setTimeout(r, 20));
          return await this.inner.put(key, data, options);
        } finally {
          inFlight--;
        }
      }
    }
    const fresh = await openRepositoryIn(new SlowPuts(repo.backend));
    const b = await backup(fresh, { paths: [src], statCacheDir: cacheDir });
    // Several files at once (one at a time before).
    expect(most).toBeGreaterThan(1);
    expect(b.snapshot.summary.filesUnchanged).toBe(24);
    expect(b.snapshot.tree).toBe(first.snapshot.tree);
    expect((await check(fresh, { readData: true })).problems).toEqual([]);
  });

  it('two backups at once on one machine both work (stat cache slots)', async () => {
    const src = await tempDir();
    for (let i = 0; i < 30; i++) await writeFile(join(src, `f${i}`), pseudoRandomBytes(2000, i));
    const { repo } = await localRepo();
    const cacheDir = await tempDir();
    const [a, b] = await Promise.all([
      backup(repo, { paths: [src], statCacheDir: cacheDir }),
      backup(repo, { paths: [src], statCacheDir: cacheDir }),
    ]);
    expect(a.snapshot.tree).toBe(b.snapshot.tree);
  });
});

describe('repairing after data loss', () => {
  it('--force re-reads and re-stores chunks that vanished while their trees remain', async () => {
    const src = await tempDir();
    const f = join(src, 'f');
    await writeFile(f, pseudoRandomBytes(50_000, 8));
    await age([f]);
    const { repo } = await localRepo();
    const cacheDir = await tempDir();
    await backup(repo, { paths: [src], statCacheDir: cacheDir });
    for await (const info of repo.backend.list('data/')) await repo.backend.delete(info.key);
    const { openRepositoryIn } = await import('../../src/repo/repository.js');
    const fresh = await openRepositoryIn(repo.backend);
    const b = await backup(fresh, { paths: [src], statCacheDir: cacheDir, force: true });
    // Read again, but unchanged since the last backup.
    expect(b.snapshot.summary.filesUnchanged).toBe(1);
    expect(b.bytesRead).toBe(50_000);
    expect(b.snapshot.summary.blobsAdded).toBeGreaterThan(10);
    const { check } = await import('../../src/ops/check.js');
    const report = await check(fresh, { readData: true });
    // the new snapshot is whole; the old one shares its (now restored) chunks
    expect(report.problems).toEqual([]);
  });
});
