/**
 * check and prune give the same reports and delete the same blobs whether their sets of
 * blobs stay in memory or spill to disk (sorted runs of one key merged two at a time,
 * and level databases, forced by thresholds of 1), and leave no temporary file behind.
 */
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.js';
import { LocalBackend } from '../../src/backends/local.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import { forget } from '../../src/ops/forget.js';
import { type PruneReport, prune } from '../../src/ops/prune.js';
import { diskSetDefaults } from '../../src/repo/disk-set.js';
import { sortSetDefaults } from '../../src/repo/external-sort-set.js';
import { blobKey, blobPrefix } from '../../src/repo/layout.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { TINY_CHUNKS } from '../helpers/repo.js';

const defaults = { ...diskSetDefaults };
const sortDefaults = { ...sortSetDefaults };
afterEach(() => {
  Object.assign(diskSetDefaults, defaults);
  Object.assign(sortSetDefaults, sortDefaults);
});

/** Every set spills at its first key; runs merge two at a time (many levels). */
function spillEverything(): void {
  diskSetDefaults.spillThreshold = 1;
  sortSetDefaults.runEntries = 1;
  sortSetDefaults.fanIn = 2;
}

async function blobKeys(backend: Backend): Promise<string[]> {
  const keys: string[] = [];
  for (const kind of ['data', 'tree'] as const) {
    for await (const info of backend.list(blobPrefix(kind))) keys.push(info.key);
  }
  return keys.sort();
}

/** A repository of three snapshots of a changing tree, with its own cache dir. */
async function threeSnapshots(): Promise<{ dir: string; cacheDir: string }> {
  const dir = await tempDir('cairn-repo-');
  const cacheDir = await tempDir('cairn-cache-');
  const repo = await initRepository(
    new LocalBackend(dir),
    { chunker: TINY_CHUNKS, inlineMax: 32 },
    { cacheDir },
  );
  const src = await tempDir();
  for (let v = 1; v <= 3; v++) {
    for (let d = 0; d < 3; d++) {
      const sub = join(src, `d${d}`);
      await mkdir(sub, { recursive: true });
      for (let f = 0; f < 4; f++) {
        // d0 never changes, d1 changes in one file, d2 changes entirely.
        const seed = d === 0 ? f : d === 1 ? (f === 0 ? 100 * v : f) : 1000 * v + f;
        await writeFile(join(sub, `f${f}`), pseudoRandomBytes(3000, seed));
      }
    }
    await backup(repo, { paths: [src], statCacheDir: false });
  }
  return { dir, cacheDir };
}

async function open(dir: string, cacheDir: string) {
  return openRepositoryIn(new LocalBackend(dir), { cacheDir });
}

/** What a test compares: the report without timings. */
function comparable(r: PruneReport) {
  const { sweepAfter: _ignored, ...rest } = r;
  return rest;
}

describe('check and prune with sets spilled to disk', () => {
  it('check reports the same problems and counts', async () => {
    const { dir, cacheDir } = await threeSnapshots();
    // Damage: two missing data blobs, so the order of problems is compared too.
    const data = await blobKeys(new LocalBackend(dir));
    const victims = data.filter((k) => k.startsWith('data/')).slice(0, 2);
    for (const k of victims) await rm(join(dir, k));
    // An unreferenced stored blob.
    await new LocalBackend(dir).put(blobKey('data', 'ab'.repeat(32)), new Uint8Array([1, 2, 3]));

    const inMemory = await check(await open(dir, cacheDir), { readData: true });
    spillEverything();
    const spilled = await check(await open(dir, cacheDir), { readData: true });
    expect(spilled).toEqual(inMemory);
    expect(inMemory.problems.map((p) => p.object)).toEqual(
      victims.map((k) => `data ${k.slice(-64)}`),
    );
    expect(inMemory.unreferencedBlobs).toBe(1);
    expect(inMemory.dataBlobsRead).toBe(inMemory.dataBlobs - 2);
    // The spilled run made its databases in the cache dir and removed them.
    expect(await readdir(join(cacheDir, 'tmp'))).toEqual([]);
  });

  it('prune marks and sweeps the same blobs', async () => {
    const { dir, cacheDir } = await threeSnapshots();
    const twin = await tempDir('cairn-repo-');
    await cp(dir, twin, { recursive: true });

    const run = async (repoDir: string) => {
      const repo = await open(repoDir, cacheDir);
      const dry = await prune(repo, { dryRun: true });
      await forget(repo, { policy: { last: 1 } });
      const pruned = await prune(repo, { graceMs: 0 });
      return { dry, pruned, left: await blobKeys(repo.backend) };
    };
    const inMemory = await run(dir);
    spillEverything();
    const spilled = await run(twin);

    expect(comparable(spilled.dry)).toEqual(comparable(inMemory.dry));
    expect(comparable(spilled.pruned)).toEqual(comparable(inMemory.pruned));
    expect(spilled.left).toEqual(inMemory.left);
    expect(inMemory.pruned.swept).toBe(true);
    expect(inMemory.pruned.deletedTrees).toBeGreaterThan(0);
    expect(inMemory.pruned.deletedData).toBeGreaterThan(0);
    expect(await readdir(join(cacheDir, 'tmp'))).toEqual([]);
    const checked = await check(await open(twin, cacheDir), { readData: true });
    expect(checked.problems).toEqual([]);
    expect(checked.unreferencedBlobs).toBe(0);
  });
});
