/**
 * Prune must keep the invariant backup relies on when it reuses a directory through its
 * stat cache: a stored tree node implies that everything below it is stored (backup
 * checks only that the directory's root node exists). Two ways prune could break it,
 * each replayed deterministically here with the library and a backend that "dies" at
 * the chosen moment:
 *
 * - a sweep killed while deleting tree nodes (deleted in no particular order) could
 *   leave a directory's index node without its pages, or a parent without a subdirectory;
 * - a sweep could delete candidate blobs that a tree written since the mark references:
 *   the work of a backup killed before it committed its snapshot, which the next backup
 *   reuses from the stat cache.
 *
 * After either, the next backup of the unchanged source must be complete, restore
 * exactly, and `check --read-data` must be clean.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CallOptions, PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import type { ObjectId } from '../../src/core/ids.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import { forget } from '../../src/ops/forget.js';
import { prune } from '../../src/ops/prune.js';
import { restore } from '../../src/ops/restore.js';
import { blobKey, SNAPSHOTS_PREFIX } from '../../src/repo/layout.js';
import { initRepository, openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { describeTree, pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { TINY_CHUNKS } from '../helpers/repo.js';

/** Small pages, so a directory of a few hundred entries has an index node over pages. */
const PAGING = { min: 1024, target: 2048, max: 4096 };

/** A backend that fails the chosen calls, as if the process had died before them. */
class DyingBackend extends ForwardingBackend {
  failDelete: (key: string) => boolean = () => false;
  failPut: (key: string) => boolean = () => false;
  readonly deleted: string[] = [];

  override async delete(key: string, options?: CallOptions): Promise<void> {
    if (this.failDelete(key)) {
      // Let the deletes already in flight land first, as they would before a kill.
      await new Promise((r) => setTimeout(r, 30));
      throw new Error(`simulated crash before deleting ${key}`);
    }
    await super.delete(key, options);
    this.deleted.push(key);
  }

  override put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    if (this.failPut(key)) return Promise.reject(new Error(`simulated crash before ${key}`));
    return super.put(key, data, options);
  }
}

async function setup(): Promise<{ dir: string; repo: Repository; cache: string; src: string }> {
  const dir = await tempDir('cairn-pi-repo-');
  const repo = await initRepository(new LocalBackend(dir), {
    chunker: TINY_CHUNKS,
    inlineMax: 32,
    paging: PAGING,
  });
  return {
    dir,
    repo,
    cache: await tempDir('cairn-pi-cache-'),
    src: await tempDir('cairn-pi-src-'),
  };
}

/**
 * Waits until files just written are old enough for the stat cache to trust them
 * (backup does not cache files changed within 100 ms of its start).
 */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 250));
}

/** The tree id of the directory entry called `name` anywhere below `tree`. */
async function findDir(repo: Repository, tree: ObjectId, name: string): Promise<ObjectId> {
  for await (const e of repo.trees.entries(tree)) {
    if (e.kind !== 'dir') continue;
    if (e.name === name) return e.tree;
    const below = await findDir(repo, e.tree, name).catch(() => undefined);
    if (below) return below;
  }
  throw new Error(`no directory ${name}`);
}

/** Backs up `src` with the stat cache, checks with --read-data and restores exactly. */
async function nextBackupIsComplete(repo: Repository, src: string, cache: string): Promise<void> {
  const { snapshotId } = await backup(repo, { paths: [src], statCacheDir: cache, tags: ['keep'] });
  const report = await check(repo, { readData: true });
  expect(report.problems).toEqual([]);
  const target = await tempDir('cairn-pi-dst-');
  await restore(repo, snapshotId!, await repo.snapshots.load(snapshotId!), { target });
  expect(await describeTree(target)).toEqual(await describeTree(src));
}

describe('prune interrupted, then the next backup through the stat cache', () => {
  it('a sweep killed while deleting tree nodes leaves no node without what is below it', async () => {
    const { dir, repo, cache, src } = await setup();
    await mkdir(join(src, 'big', 'sub'), { recursive: true });
    for (let i = 0; i < 300; i++) {
      await writeFile(join(src, 'big', `a-rather-long-file-name-${i}.txt`), `f${i}`);
    }
    await writeFile(join(src, 'big', 'sub', 'x.bin'), pseudoRandomBytes(3000, 1));
    await backup(repo, { paths: [src], statCacheDir: cache, tags: ['keep'] });
    // Version 2 (forgotten below): one page of `big` and `sub` change.
    await writeFile(join(src, 'big', 'a-rather-long-file-name-7.txt'), 'changed');
    await writeFile(join(src, 'big', 'sub', 'x.bin'), pseudoRandomBytes(3000, 2));
    await settle();
    const v2 = await backup(repo, { paths: [src], statCacheDir: cache });
    const big = await findDir(repo, v2.snapshot.tree, 'big');
    expect((await repo.trees.nodeIds(big)).length).toBeGreaterThan(2); // index + pages
    await forget(repo, { policy: { tags: [['keep']] } });

    // A prune that dies before deleting the directory nodes that have something below them
    // (v2's root, `big`'s index node), while the other deletes go through.
    const dying = new DyingBackend(new LocalBackend(dir));
    const parents = new Set([blobKey('tree', v2.snapshot.tree), blobKey('tree', big)]);
    dying.failDelete = (key) => parents.has(key);
    const pruner = await openRepositoryIn(dying);
    await expect(prune(pruner, { graceMs: 0 })).rejects.toThrow(/simulated crash/);
    await pruner.close();

    await nextBackupIsComplete(repo, src, cache);
    // And a full prune afterwards leaves the repository clean.
    await prune(repo, { graceMs: 0 });
    expect((await check(repo, { readData: true })).problems).toEqual([]);
    await repo.close();
  });

  it('a sweep keeps the blobs that trees written since its mark (a killed backup) reference', async () => {
    const { dir, repo, cache, src } = await setup();
    const other = await tempDir('cairn-pi-src-');
    await writeFile(join(other, 'kept.txt'), 'kept');
    await backup(repo, { paths: [other], statCacheDir: false, tags: ['keep'] });
    await mkdir(join(src, 'd'), { recursive: true });
    await writeFile(join(src, 'd', 'a.bin'), pseudoRandomBytes(6000, 3));
    await backup(repo, { paths: [src], statCacheDir: cache });
    await forget(repo, { policy: { tags: [['keep']] } });
    // Mark: a.bin's chunks are candidates now.
    const t0 = Date.now();
    const marked = await prune(repo, { graceMs: 3600_000, now: () => t0 });
    expect(marked.marked).toBeGreaterThan(0);
    expect(marked.swept).toBe(false);

    // A backup that reuses a.bin's chunks in a new tree for `d`, then dies before its
    // snapshot is written (its stat cache records the new tree).
    await writeFile(join(src, 'd', 'b.txt'), 'new');
    const dying = new DyingBackend(new LocalBackend(dir));
    dying.failPut = (key) => key.startsWith(SNAPSHOTS_PREFIX);
    await settle();
    const writer = await openRepositoryIn(dying);
    await expect(backup(writer, { paths: [src], statCacheDir: cache })).rejects.toThrow(
      /simulated crash/,
    );
    await writer.close();

    // The sweep, an hour later.
    const swept = await prune(repo, { graceMs: 3600_000, now: () => t0 + 2 * 3600_000 });
    expect(swept.swept).toBe(true);

    await nextBackupIsComplete(repo, src, cache);
    await repo.close();
  });
});
