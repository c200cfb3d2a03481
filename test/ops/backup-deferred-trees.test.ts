/**
 * Tree nodes are stored after their ids are known (in batches, on local repositories),
 * so a backup goes on while they are written. What must not change: a failed node write
 * fails the backup, and the stat cache never records a directory whose tree is not
 * completely stored (a later backup would reuse it whole).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend, PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { BackendError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import { restore } from '../../src/ops/restore.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';
import { describeTree, tempDir } from '../helpers/fs.js';

/** Fails, after a delay, the put of the tree node holding `marker` (a leaf page). */
class FailOneTreeNode extends ForwardingBackend {
  failed = 0;
  constructor(
    inner: Backend,
    private readonly marker: string,
  ) {
    super(inner);
  }
  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    if (key.startsWith('tree/') && Buffer.from(data).includes(this.marker)) {
      // Late: the directory's id is known and its parent written by then.
      await new Promise((r) => setTimeout(r, 150));
      this.failed++;
      throw new BackendError(`disk refused ${key}`, { retryable: false });
    }
    return super.put(key, data, options);
  }
}

const PAGING = { min: 1024, target: 2048, max: 4096 };

describe('backup with tree nodes stored after their ids are known', () => {
  it('fails on a late node failure and records no partial tree in the stat cache', async () => {
    const src = await tempDir();
    const big = join(src, 'big');
    await mkdir(big);
    // ~400 entries of ~100 bytes: many leaf pages under an index node.
    for (let i = 0; i < 400; i++) {
      await writeFile(join(big, `f${String(i).padStart(4, '0')}`), `content ${i} `.repeat(4));
    }
    await writeFile(join(big, 'zz-last'), 'the last entry of the last page');
    await writeFile(join(src, 'top'), 'a file beside the directory');
    const dir = await tempDir('cairn-repo-');
    await initRepository(new LocalBackend(dir), { inlineMax: 1024, paging: PAGING });
    const statCacheDir = await tempDir();

    const failing = new FailOneTreeNode(new LocalBackend(dir), 'the last entry');
    const broken = await openRepositoryIn(failing);
    await expect(backup(broken, { paths: [src], statCacheDir })).rejects.toThrow(/disk refused/);
    expect(failing.failed).toBeGreaterThan(0);
    expect(await broken.snapshots.list()).toEqual([]);

    // The files have not changed, so a stat cache record of `big` would be reused whole,
    // missing page and all. There must be none: the directory is written again.
    const repo = await openRepositoryIn(new LocalBackend(dir));
    const { snapshotId } = await backup(repo, { paths: [src], statCacheDir });
    const report = await check(repo);
    expect(report.problems).toEqual([]);
    const target = await tempDir();
    await restore(repo, snapshotId!, await repo.snapshots.load(snapshotId!), { target });
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });
});
