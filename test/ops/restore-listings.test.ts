/**
 * Restoring from a local repository, whose worker pool writes the small files, lists at
 * most four subdirectories of a directory at once: each listing holds its tree pages
 * while its batches wait for room in the pool, so more at once only cost memory
 * (src/ops/restore.ts LISTINGS_IN_FLIGHT_LOCAL). A directory gives its place up once
 * listed. Needs the compiled build (its restore runs real worker threads).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compiledModules } from '../helpers/compiled.js';
import { describeTree, pseudoRandomBytes, tempDir, writeTree } from '../helpers/fs.js';

type Cairn = typeof import('../../src/index.js');

describe('restore from a local repository with worker threads', () => {
  it('lists at most four subdirectories of a directory at once, and restores them all', async () => {
    const cairn = await compiledModules<Cairn>();
    const repoDir = await tempDir('cairn-repo-');
    const repo = await cairn.initRepository(new cairn.LocalBackend(repoDir, { fsync: false }), {
      inlineMax: 4096,
    });
    const src = await tempDir();
    // Twelve folders of small files: many more batches than the pool takes at once.
    const spec: Record<string, Record<string, Uint8Array>> = {};
    for (let d = 0; d < 12; d++) {
      const dir: Record<string, Uint8Array> = {};
      for (let f = 0; f < 500; f++)
        dir[`f${f}`] = pseudoRandomBytes(1 + ((f * 97) % 4000), d * 1000 + f);
      spec[`d${d}`] = dir;
    }
    await writeTree(src, spec);
    const { snapshotId, snapshot } = await cairn.backup(repo, {
      paths: [src],
      statCacheDir: false,
    });

    // Listings open at once: the root's, and its subdirectories'.
    const trees = repo.trees;
    const entries = trees.entries.bind(trees);
    let open = 0;
    let most = 0;
    trees.entries = async function* (...args: Parameters<typeof entries>) {
      open++;
      most = Math.max(most, open);
      try {
        yield* entries(...args);
      } finally {
        open--;
      }
    };
    const target = join(await tempDir(), 'new');
    const s = await cairn.restore(repo, snapshotId!, snapshot, { target, workers: 2 });
    expect(s.errors).toBe(0);
    expect(s.files).toBe(6000);
    expect(await describeTree(target)).toEqual(await describeTree(src));
    // The snapshot's root holds the source folder, which holds the twelve.
    expect(most).toBeGreaterThanOrEqual(4);
    expect(most).toBeLessThanOrEqual(2 + 4);
  });
});
