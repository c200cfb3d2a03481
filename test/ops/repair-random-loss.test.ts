/**
 * `repairSnapshots` after seeded, random losses in real backups (from the fifteenth
 * review, which ran 60 seeds of it). Four versions of one tree, with every mtime pinned
 * so that a repaired later directory can equal an earlier version's node: paged large
 * directories, identical subtrees shared three ways, empty directories, directories that
 * only gain files. Damage by seed: random (0), or a growing directory's earlier node lost
 * with the files a later version added (1-3: alone, with some random damage, with its
 * parent lost too); every fifth seed also loses the empty directory's node. Each seed:
 * a dry run changes nothing; with and without the memo, deletions go parents first,
 * check finds nothing, a second run does nothing, and both end with the same snapshots.
 */
import { cp, readdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import type { ObjectId } from '../../src/core/ids.js';
import type { DirEntry, FileEntry } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { type RepairReport, repairSnapshots } from '../../src/ops/repair.js';
import { BlobStore } from '../../src/repo/blob-store.js';
import { blobIdOfKey, blobKey } from '../../src/repo/layout.js';
import { initRepository, openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { TreeReader } from '../../src/repo/tree-store.js';
import { type TreeSpec, tempDir, writeTree } from '../helpers/fs.js';
import { entryAt, problems, RecordsDeletes } from '../helpers/repair-fixtures.js';
import { TINY_CHUNKS } from '../helpers/repo.js';

/** A seeded generator of numbers in [0, 1). */
function seeded(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PINNED = 1_700_000_000;

async function pinMtimes(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) await pinMtimes(path);
    await utimes(path, PINNED, PINNED);
  }
  await utimes(dir, PINNED, PINNED);
}

const body = (tag: string) => `${tag} unique body `.repeat(6);
const numbered = (count: number, prefix: string, tag: string): TreeSpec =>
  Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`${prefix}${i}.txt`, body(`${tag}${i}`)]),
  );

function manyFiles(count: number, tag: string): TreeSpec {
  const out: TreeSpec = {};
  for (let i = 0; i < count; i++) {
    out[`f${String(i).padStart(4, '0')}-${'y'.repeat(20)}`] = `${tag} content ${i} `.repeat(6);
  }
  return out;
}

/** Directories whose later versions only add files. */
const GROWING = ['grow', 'n/m/grow2', 'bigGrow', 'sh1/inner', 'nest/deep/g'];

/** Version `v` of the source, written over the one before (files only added or changed). */
async function writeVersion(src: string, v: number, random: () => number): Promise<void> {
  const shared: TreeSpec = {
    'k.txt': 'shared k '.repeat(20),
    deep: { 'm.txt': 'shared m '.repeat(20), e: {}, e2: { e3: {} } },
    inner: numbered(v + 1, 'in', 'inner'),
  };
  const spec: TreeSpec = {
    big: manyFiles(130, 'big'),
    bigGrow: { ...manyFiles(110, 'bg'), ...numbered(v, 'z-added-', 'bg-add') },
    sh1: shared,
    sh2: shared,
    sh3: v % 2 === 0 ? shared : { ...shared, 'odd.txt': body(`odd${v}`) },
    grow: numbered(v + 1, 'g', 'g'),
    n: { m: { grow2: numbered(1 + Math.floor(v / 2), 'h', 'h'), 'same.txt': 'same '.repeat(30) } },
    nest: { deep: { g: numbered(v + 1, 'q', 'q'), e: {} } },
    empty: {},
    e4: { e5: {} },
    'top.txt': v < 2 ? 'top stable '.repeat(10) : `top ${v} `.repeat(10),
  };
  if (v > 0 && random() < 0.5) {
    const i = Math.floor(random() * 130);
    (spec.big as TreeSpec)[`f${String(i).padStart(4, '0')}-${'y'.repeat(20)}`] = body(
      `changed-${v}`,
    );
  }
  await writeTree(src, spec);
  await pinMtimes(src);
}

async function keysOf(dir: string, kind: 'data' | 'tree'): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(join(dir, kind))) {
    for (const name of await readdir(join(dir, kind, shard))) {
      const key = `${kind}/${shard}/${name}`;
      if (blobIdOfKey(kind, key)) out.push(key);
    }
  }
  return out.sort();
}

type Damage = 'delete' | 'flip' | 'truncate';

async function damage(dir: string, key: string, how: Damage): Promise<void> {
  const path = join(dir, key);
  if (how === 'delete') return rm(path, { force: true });
  if (how === 'truncate') return truncate(path, 3).catch(() => {});
  const bytes = await readFile(path).catch(() => undefined);
  if (!bytes) return;
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  await writeFile(path, bytes);
}

/** The snapshot path of `rel` (below the source) in `tree`. */
async function snapshotPath(repo: Repository, tree: ObjectId, src: string, rel: string) {
  for (const path of [`${src.replace(/^\//, '')}/${rel}`, rel]) {
    const found = await entryAt(repo, tree, path).then(
      () => true,
      () => false,
    );
    if (found) return path;
  }
  throw new Error(`${rel} is not in ${tree}`);
}

/** Four backups of the growing source into a new repository with small pages. */
async function versions(random: () => number) {
  const dir = await tempDir('cairn-random-loss-');
  const repo = await initRepository(new LocalBackend(dir), {
    chunker: TINY_CHUNKS,
    inlineMax: 32,
    paging: { min: 1024, target: 2048, max: 4096 },
  });
  const src = await tempDir();
  const trees: ObjectId[] = [];
  for (let v = 0; v < 4; v++) {
    await writeVersion(src, v, random);
    trees.push((await backup(repo, { paths: [src], statCacheDir: false })).snapshot.tree);
  }
  return { dir, repo, trees, src };
}

/** What to damage: a growing directory's version-i node and what version j added, and random picks. */
async function damagePlan(seed: number, random: () => number) {
  const { dir, repo, trees, src } = await versions(random);
  const plan: Array<[string, Damage]> = [];
  const mode = seed % 4;
  let keptTree: ObjectId | undefined;
  if (mode !== 0) {
    const grown = GROWING[Math.floor(random() * GROWING.length)]!;
    const i = Math.floor(random() * 3);
    const j = i + 1 + Math.floor(random() * (3 - i));
    const pathI = await snapshotPath(repo, trees[i]!, src, grown);
    const before = (await entryAt(repo, trees[i]!, pathI)) as DirEntry;
    const after = (await entryAt(
      repo,
      trees[j]!,
      await snapshotPath(repo, trees[j]!, src, grown),
    )) as DirEntry;
    const reader = new TreeReader(new BlobStore(repo.backend, { codec: repo.codec }));
    const names = new Set<string>();
    for await (const e of reader.entries(before.tree)) names.add(e.name);
    plan.push([blobKey('tree', before.tree), random() < 0.7 ? 'delete' : 'flip']);
    if (mode === 3 && pathI.includes('/')) {
      const parent = (await entryAt(
        repo,
        trees[i]!,
        pathI.slice(0, pathI.lastIndexOf('/')),
      )) as DirEntry;
      plan.push([blobKey('tree', parent.tree), 'delete']);
    }
    for await (const e of reader.entries(after.tree)) {
      if (names.has(e.name) || e.kind !== 'file') continue;
      for (const c of (e as FileEntry).chunks) {
        plan.push([blobKey('data', c.id), random() < 0.8 ? 'delete' : 'truncate']);
      }
    }
    keptTree = trees[i];
  }
  const pick = (): Damage => (['delete', 'flip', 'truncate'] as const)[Math.floor(random() * 3)]!;
  const dataRate = mode === 0 ? 0.03 : mode === 2 ? 0 : 0.005;
  const treeRate = mode === 0 ? 0.06 : mode === 2 ? 0 : 0.015;
  for (const key of await keysOf(dir, 'data')) if (random() < dataRate) plan.push([key, pick()]);
  for (const key of await keysOf(dir, 'tree')) if (random() < treeRate) plan.push([key, pick()]);
  if (seed % 5 === 0) {
    const idsOnly = new BlobStore(repo.backend, { codec: repo.codec, dryRun: true });
    const empty = (await repo.directoryWriter(idsOnly).finish()).tree;
    plan.push([blobKey('tree', empty), 'delete']);
  }
  // Only mode 2 is the targeted loss alone: its version-i snapshot must come out whole.
  return { dir, plan, keptTree: mode === 2 ? keptTree : undefined };
}

async function repairIn(
  dir: string,
  options: { verbose?: boolean; readData: boolean; dryRun?: boolean },
) {
  const backend = new RecordsDeletes(new LocalBackend(dir));
  const report: RepairReport = await repairSnapshots(await openRepositoryIn(backend), {
    forget: true,
    ...options,
  });
  return { report, deletedTrees: backend.deleted.filter((k) => k.startsWith('tree/')) };
}

/** Tree deletions of a node after one it references (as stored before the damage). */
async function childrenFirst(
  pristine: string,
  deleted: readonly string[],
  skip: ReadonlySet<ObjectId>,
) {
  const repo = await openRepositoryIn(new LocalBackend(pristine));
  const reader = new TreeReader(new BlobStore(repo.backend, { codec: repo.codec }));
  const at = new Map(deleted.map((key, i) => [blobIdOfKey('tree', key)!, i]));
  const wrong: string[] = [];
  for (const [id, i] of at) {
    if (skip.has(id)) continue;
    const node = await reader.node(id).catch(() => undefined); // the repair's own: not there
    if (!node) continue;
    const children =
      node.kind === 'index'
        ? node.pages.map((p) => p.tree)
        : node.entries.flatMap((e) => (e.kind === 'dir' ? [e.tree] : []));
    for (const child of children) {
      const j = at.get(child);
      if (j !== undefined && j < i) wrong.push(`${id} after its child ${child}`);
    }
  }
  return wrong;
}

async function snapshotTrees(dir: string): Promise<string[]> {
  const repo = await openRepositoryIn(new LocalBackend(dir));
  return (await repo.snapshots.list({})).map((s) => `${s.snapshot.time} ${s.snapshot.tree}`).sort();
}

async function copyOf(dir: string): Promise<string> {
  const copy = await tempDir('cairn-random-loss-copy-');
  await cp(dir, copy, { recursive: true });
  return copy;
}

describe('repair after random losses', () => {
  it.each([1, 2, 3, 4, 5, 8])('seed %i', { timeout: 120_000 }, async (seed) => {
    const random = seeded(seed);
    const { dir, plan, keptTree } = await damagePlan(seed, random);
    const pristine = await copyOf(dir);
    for (const [key, how] of plan) await damage(dir, key, how);
    const corrupted = new Set(
      plan
        .filter(([k, how]) => k.startsWith('tree/') && how !== 'delete')
        .map(([k]) => blobIdOfKey('tree', k)!),
    );
    const readData = plan.some(([k, how]) => k.startsWith('data/') && how === 'flip');

    const dryDir = await copyOf(dir);
    const stateOf = async (d: string) => [
      ...(await keysOf(d, 'tree')),
      ...(await readdir(join(d, 'snapshots'))),
    ];
    const before = await stateOf(dryDir);
    const dry = await repairIn(dryDir, { readData, dryRun: true });
    expect(await stateOf(dryDir)).toEqual(before);

    const ends: Array<{ deleted: string[]; trees: string[] }> = [];
    for (const verbose of [false, true]) {
      const copy = await copyOf(dir);
      const first = await repairIn(copy, { verbose, readData });
      expect(await childrenFirst(pristine, first.deletedTrees, corrupted)).toEqual([]);
      expect(await problems(copy)).toEqual([]);
      if (!dry.report.lostWrittenAgain) {
        expect(first.report.damagedTrees).toBe(dry.report.damagedTrees);
      }
      const again = await repairIn(copy, { verbose, readData });
      expect(again.report).toMatchObject({
        repaired: [],
        deletedTrees: 0,
        deletedBlobs: 0,
        forgotten: 0,
      });
      const trees = await snapshotTrees(copy);
      if (keptTree) expect(trees.some((t) => t.endsWith(` ${keptTree}`))).toBe(true);
      ends.push({ deleted: [...first.deletedTrees].sort(), trees });
    }
    expect(ends[1]).toEqual(ends[0]);
  });
});
