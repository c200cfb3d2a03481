import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend, ObjectInfo } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { backup } from '../../src/ops/backup.js';
import { openBlob, sealBlob } from '../../src/repo/blob-format.js';
import { openRepositoryIn } from '../../src/repo/repository.js';
import { SNAPSHOT_INDEX_KEY } from '../../src/repo/snapshot-index.js';
import { tempDir } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

/** What a static web server offers: reads only, no listing. */
class NoListing extends ForwardingBackend {
  override get capabilities() {
    return { writable: false, listable: false, atomicCreate: false };
  }
  // biome-ignore lint/correctness/useYield: a listing that always fails
  override async *list(): AsyncIterable<ObjectInfo> {
    throw new Error('cannot list');
  }
}

async function twoSnapshots() {
  const { repo, dir } = await localRepo();
  const src = await tempDir();
  await writeFile(join(src, 'f'), 'one');
  const a = await backup(repo, { paths: [src], tags: ['v1'], statCacheDir: false });
  await writeFile(join(src, 'f'), 'two');
  const b = await backup(repo, { paths: [src], tags: ['v2'], statCacheDir: false });
  return { repo, dir, a: a.snapshotId!, b: b.snapshotId! };
}

describe('snapshot index', () => {
  it('lets a reader that cannot list find snapshots, latest and tags', async () => {
    const { repo, a, b } = await twoSnapshots();
    const reader = await openRepositoryIn(new NoListing(repo.backend as Backend));
    expect((await reader.snapshots.list()).map((r) => r.id)).toEqual([a, b]);
    expect((await reader.snapshots.resolve('latest')).id).toBe(b);
    expect((await reader.snapshots.resolve('tag:v1')).id).toBe(a);
    expect((await reader.snapshots.resolve(a.slice(0, 6))).id).toBe(a);
  });

  it('lists only objects named as snapshot records (a copy in a subfolder is not one)', async () => {
    const { repo, a, b } = await twoSnapshots();
    const record = await repo.backend.get(`snapshots/${a}`);
    await repo.backend.put(`snapshots/old/${a}`, record);
    await repo.backend.put(`snapshots/old/${'0'.repeat(64)}`, record);
    const reopened = await openRepositoryIn(repo.backend);
    expect((await reopened.snapshots.ids()).sort()).toEqual([a, b].sort());
    expect((await reopened.snapshots.list()).map((r) => r.id)).toEqual([a, b]);
  });

  it('is rebuilt from the records when missing or stale', async () => {
    const { repo, a, b } = await twoSnapshots();
    await repo.backend.delete(SNAPSHOT_INDEX_KEY);
    await repo.snapshots.rebuildIndex();
    const reader = await openRepositoryIn(new NoListing(repo.backend as Backend));
    expect((await reader.snapshots.ids()).sort()).toEqual([a, b].sort());
  });

  it('cannot alter a record: a tampered record is an integrity error', async () => {
    const { repo } = await twoSnapshots();
    const stored = await repo.backend.get(SNAPSHOT_INDEX_KEY);
    const plain = Buffer.from(openBlob(stored, 'index'));
    // flip a byte near the end (inside the last record's program string)
    plain[plain.length - 2]! ^= 0x01;
    await repo.backend.put(SNAPSHOT_INDEX_KEY, sealBlob(plain));
    const reader = await openRepositoryIn(new NoListing(repo.backend as Backend));
    await expect(reader.snapshots.list()).rejects.toMatchObject({ code: 'integrity' });
  });

  it('a reader that cannot list and finds no index says what is missing', async () => {
    const { repo } = await twoSnapshots();
    await repo.backend.delete(SNAPSHOT_INDEX_KEY);
    const reader = await openRepositoryIn(new NoListing(repo.backend as Backend));
    await expect(reader.snapshots.list()).rejects.toThrow(/no snapshot index \(index\/snapshots\)/);
  });
});
