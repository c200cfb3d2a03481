/**
 * `repairSnapshots` and the nodes directories share (found by the eighth review): the
 * node every empty directory has, a sub-index a hostile directory's pages overlap, a
 * node that verifies but does not decode, and a listing that gives a wrong size. In
 * each, what a sound snapshot needs stays, and a rerun has nothing left to do.
 */
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CallOptions, ObjectInfo, PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { pack } from '../../src/manifest/msgpack.js';
import { encodeIndex } from '../../src/manifest/tree-codec.js';
import type { DirEntry, FileEntry } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { repairSnapshots } from '../../src/ops/repair.js';
import { walkTree } from '../../src/ops/walk.js';
import { blobKey, snapshotKey } from '../../src/repo/layout.js';
import { openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { dirWire, fileWire, hostileRepo, lostFileWire } from '../helpers/hostile-repo.js';
import { entryAt, openFresh, problems, RecordsDeletes } from '../helpers/repair-fixtures.js';
import { localRepo } from '../helpers/repo.js';

const pathExists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

async function pathsOf(repo: Repository, tree: string): Promise<string[]> {
  const paths: string[] = [];
  for await (const e of walkTree(repo, tree)) paths.push(e.path);
  return paths;
}

/**
 * A hostile directory [p1, shared] and a sound one [p0, shared], where shared is an index
 * [p3, p4] whose first page p3 does not fit after p1 (its names overlap p1's).
 */
async function overlappingDirectories(
  p1Entries: unknown[],
  p3Entries: unknown[],
  into?: Awaited<ReturnType<typeof hostileRepo>>,
) {
  const h = into ?? (await hostileRepo());
  const p0 = await h.putLeaf([fileWire('a')]);
  const p1 = await h.putLeaf(p1Entries);
  const p3 = await h.putLeaf(p3Entries);
  const p4 = await h.putLeaf([fileWire('s')]);
  const shared = await h.putTree(
    encodeIndex([
      { first: 'p', tree: p3, count: 2 },
      { first: 's', tree: p4, count: 1 },
    ]),
  );
  const hostile = await h.putTree(
    encodeIndex([
      { first: 'b', tree: p1, count: 2 },
      { first: 'p', tree: shared, count: 3 },
    ]),
  );
  const sound = await h.putTree(
    encodeIndex([
      { first: 'a', tree: p0, count: 1 },
      { first: 'p', tree: shared, count: 3 },
    ]),
  );
  return { ...h, p3, shared, hostile, sound };
}

/** `overlappingDirectories`, with a snapshot of the hostile one and a later one of the sound. */
async function hostileAndSoundSnapshots(p1Entries: unknown[], p3Entries: unknown[]) {
  const o = await overlappingDirectories(p1Entries, p3Entries);
  const bad = await o.putSnapshot(o.hostile);
  await o.repo.snapshots.write({
    ...bad.snapshot,
    time: '2026-11-22T12:00:00.000Z',
    tree: o.sound,
    summary: { ...bad.snapshot.summary, files: 4 },
  });
  return { ...o, bad };
}

/** Lists every data blob as 0 bytes long, as a server that leaves sizes out would. */
class NoSizes extends ForwardingBackend {
  override async *list(prefix: string, options?: CallOptions): AsyncIterable<ObjectInfo> {
    for await (const info of super.list(prefix, options)) {
      yield prefix.startsWith('data') ? { ...info, size: 0 } : info;
    }
  }
}

describe('repair and shared nodes', () => {
  it("a lost empty directory's node is written again as it was: nothing changes, nothing is deleted", async () => {
    const src = await tempDir();
    await writeTree(src, {
      'a.txt': 'a'.repeat(300),
      sub: { 'b.txt': 'b'.repeat(300), empty: {} },
    });
    const { repo, dir } = await localRepo();
    const first = await backup(repo, { paths: [src], statCacheDir: false });
    const empty = (await entryAt(repo, first.snapshot.tree, 'sub/empty')) as DirEntry;
    await rm(join(dir, blobKey('tree', empty.tree)));
    expect(await problems(dir)).not.toEqual([]);

    const dry = await repairSnapshots(await openFresh(dir), { dryRun: true });
    expect(dry).toMatchObject({ repaired: [], intact: 1, restoredTrees: 1, damagedTrees: 0 });
    const report = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(report).toMatchObject({
      repaired: [],
      intact: 1,
      restoredTrees: 1,
      damagedTrees: 0,
      deletedTrees: 0,
      forgotten: 0,
    });
    const fresh = await openFresh(dir);
    const [only, ...others] = await fresh.snapshots.list({});
    expect(others).toEqual([]);
    expect(only!.id).toBe(first.snapshotId);
    expect(await pathsOf(fresh, only!.snapshot.tree)).toEqual([
      'a.txt',
      'sub',
      'sub/b.txt',
      'sub/empty',
    ]);
    expect(await problems(dir)).toEqual([]);
  });

  it('a sub-index that fits on its own stays, though a hostile directory overlaps it', async () => {
    const { dir, shared, hostile, sound, bad } = await hostileAndSoundSnapshots(
      [fileWire('b'), fileWire('q')],
      [fileWire('p'), fileWire('r')],
    );

    const report = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(report.repaired.map((r) => r.from)).toEqual([bad.id]);
    expect(await pathExists(join(dir, blobKey('tree', hostile)))).toBe(false);
    expect(await pathExists(join(dir, blobKey('tree', shared)))).toBe(true);
    const fresh = await openFresh(dir);
    expect(await pathsOf(fresh, sound)).toEqual(['a', 'p', 'r', 's']);
    expect(await problems(dir)).toEqual([]);
  });

  it('a name lost in the hostile directory does not condemn a sound page of that name', async () => {
    // "r" is lost in p1, and p3 (which does not fit there) holds a sound "r".
    const { dir, p3, shared, sound, bad } = await hostileAndSoundSnapshots(
      [fileWire('b'), lostFileWire('r')],
      [fileWire('p'), fileWire('r')],
    );
    const report = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(report.repaired.map((r) => r.from)).toEqual([bad.id]);
    for (const kept of [shared, p3, sound]) {
      expect(await pathExists(join(dir, blobKey('tree', kept)))).toBe(true);
    }
    expect(await problems(dir)).toEqual([]);
  });

  it('a sub-index whose page holds damage is deleted, though the page did not fit where the walk met it', async () => {
    const { dir, putSnapshot, p3, shared, hostile } = await overlappingDirectories(
      [fileWire('b'), fileWire('q')],
      [fileWire('p'), lostFileWire('r')],
    );
    await putSnapshot(hostile);
    const first = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(first.repaired).toHaveLength(1);
    for (const deleted of [hostile, shared, p3]) {
      expect(await pathExists(join(dir, blobKey('tree', deleted)))).toBe(false);
    }
    const again = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(again).toMatchObject({ repaired: [], intact: 1, damagedTrees: 0, deletedTrees: 0 });
    expect(await problems(dir)).toEqual([]);
  });

  it("a lost empty directory's node under a forgotten snapshot: a dry run and a run agree", async () => {
    const one = await tempDir();
    await writeTree(one, { 'a.txt': 'a'.repeat(300), empty: {} });
    const two = await tempDir();
    await writeTree(two, { 'b.txt': 'b'.repeat(300), x: { 'c.txt': 'c'.repeat(300), e2: {} } });
    const { repo, dir } = await localRepo();
    const kept = await backup(repo, { paths: [one], statCacheDir: false });
    const gone = await backup(repo, { paths: [two], statCacheDir: false });
    const empty = (await entryAt(repo, kept.snapshot.tree, 'empty')) as DirEntry;
    await rm(join(dir, snapshotKey(gone.snapshotId!))); // forgotten, not pruned
    await rm(join(dir, blobKey('tree', empty.tree)));
    const x = (await entryAt(repo, gone.snapshot.tree, 'x')) as DirEntry;

    const dry = await repairSnapshots(await openFresh(dir), { dryRun: true });
    const real = await repairSnapshots(await openFresh(dir), { forget: true });
    for (const report of [dry, real]) {
      expect(report).toMatchObject({ repaired: [], intact: 1, damagedTrees: 0, restoredTrees: 1 });
    }
    expect(real.deletedTrees).toBe(0);
    // The forgotten snapshot's directories stay: with the empty node back, they are whole.
    expect(await pathExists(join(dir, blobKey('tree', x.tree)))).toBe(true);
    expect(await problems(dir)).toEqual([]);
  });

  it('a node that verifies but does not decode is deleted, and a rerun finds nothing', async () => {
    const { dir, putTree, putLeaf, putSnapshot } = await hostileRepo();
    const undecodable = await putTree(pack({ v: 1, e: [fileWire('b'), fileWire('a')] }));
    await putSnapshot(await putLeaf([dirWire('d', undecodable), fileWire('f')]));

    const first = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(first).toMatchObject({ corruptTrees: 1, deletedCorruptTrees: 1 });
    expect(await pathExists(join(dir, blobKey('tree', undecodable)))).toBe(false);
    const again = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(again).toMatchObject({ repaired: [], intact: 1, corruptTrees: 0, deletedTrees: 0 });
    expect(again.postponed).toBeUndefined();
  });

  it('a listing that gives data blobs no size deletes none of them', async () => {
    const src = await tempDir();
    await writeTree(src, { 'big.bin': 'z'.repeat(5000), 'other.bin': 'y'.repeat(4000) });
    const { repo, dir } = await localRepo();
    const first = await backup(repo, { paths: [src], statCacheDir: false });
    const repaired = await openRepositoryIn(new NoSizes(new LocalBackend(dir)));
    const report = await repairSnapshots(repaired, { forget: true });
    expect(report).toMatchObject({ repaired: [], intact: 1, damagedBlobs: 0, deletedBlobs: 0 });
    const fresh = await openFresh(dir);
    expect((await fresh.snapshots.list({})).map((s) => s.id)).toEqual([first.snapshotId]);
    expect(await problems(dir)).toEqual([]);
  });
});

/** Takes every put of `key` and stores nothing (a write that does not stick). */
class IgnoresPuts extends ForwardingBackend {
  ignored = 0;
  constructor(
    inner: LocalBackend,
    private readonly key: string,
  ) {
    super(inner);
  }
  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    if (key !== this.key) return super.put(key, data, options);
    this.ignored++;
    return true;
  }
}

describe('repair judging a node while the walk goes on', () => {
  it('a page judged below a deep misfit stays whole for the later snapshot whose root it is', async () => {
    const h = await hostileRepo();
    const leaf = await h.putLeaf([fileWire('a')]);
    // Six one-page indexes above the leaf, then one whose entry gives a wrong count.
    let chain = leaf;
    for (let i = 0; i < 6; i++) {
      chain = await h.putTree(encodeIndex([{ first: 'a', tree: chain, count: 1 }]));
    }
    const wrongCount = await h.putTree(encodeIndex([{ first: 'a', tree: chain, count: 99 }]));
    const first = await h.putLeaf([fileWire('0')]);
    const root = await h.putTree(
      encodeIndex([
        { first: '0', tree: first, count: 1 },
        { first: 'a', tree: wrongCount, count: 99 },
      ]),
    );
    const bad = await h.putSnapshot(root); // the older: walked first
    await h.repo.snapshots.write({ ...bad.snapshot, time: '2026-11-22T12:00:00.000Z', tree: leaf });
    const dry = await repairSnapshots(await openFresh(h.dir), { dryRun: true });
    const report = await repairSnapshots(await openFresh(h.dir), { forget: true });
    expect(report.damagedTrees).toBe(dry.damagedTrees);
    expect(await pathExists(join(h.dir, blobKey('tree', leaf)))).toBe(true);
    expect(await problems(h.dir)).toEqual([]);
  });

  it("a page the directory above kept is judged on its content until that directory's own judgement", async () => {
    const h = await hostileRepo();
    const page = await h.putLeaf([lostFileWire('a'), fileWire('b')]);
    const other = await h.putLeaf([lostFileWire('c')]);
    const index = await h.putTree(
      encodeIndex([
        { first: 'a', tree: page, count: 2 },
        { first: 'c', tree: other, count: 1 },
      ]),
    );
    // In sub, the page comes after "z": it does not fit there; in top it does.
    const before = await h.putLeaf([fileWire('0'), fileWire('z')]);
    const sub = await h.putTree(
      encodeIndex([
        { first: '0', tree: before, count: 2 },
        { first: 'a', tree: index, count: 3 },
      ]),
    );
    const holder = await h.putLeaf([dirWire('s', sub)]);
    const top = await h.putTree(
      encodeIndex([
        { first: 'a', tree: page, count: 2 },
        { first: 's', tree: holder, count: 1 },
      ]),
    );
    await h.putSnapshot(top);
    const backend = new RecordsDeletes(new LocalBackend(h.dir));
    await repairSnapshots(await openRepositoryIn(backend), { forget: true });
    // Parents first: the index goes before its page.
    const at = (id: string) => backend.deleted.indexOf(blobKey('tree', id));
    expect(at(index)).toBeGreaterThanOrEqual(0);
    expect(at(index)).toBeLessThan(at(page));
    // Nothing that leads to damage was left for a rerun.
    const again = await repairSnapshots(await openFresh(h.dir), { forget: true });
    expect(again).toMatchObject({ damagedTrees: 0, deletedTrees: 0 });
  });
});

describe('repair writing a node it found lost', () => {
  /**
   * Oldest first: a root over a lost directory node; a directory that, repaired of a
   * lost file, equals that lost node (the repair writes it again); the first root again.
   */
  async function lostThenWritten() {
    const h = await hostileRepo();
    const lostNode = await h.putLeaf([fileWire('b')]);
    await rm(join(h.dir, blobKey('tree', lostNode)));
    const repairsToIt = await h.putLeaf([lostFileWire('a'), fileWire('b')]);
    const first = await h.putLeaf([dirWire('d', lostNode)]);
    const older = await h.putSnapshot(first);
    const other = await h.putLeaf([dirWire('e', repairsToIt)]);
    await h.repo.snapshots.write({
      ...older.snapshot,
      time: '2026-11-22T12:00:00.000Z',
      tree: other,
    });
    await h.repo.snapshots.write({
      ...older.snapshot,
      time: '2026-11-23T12:00:00.000Z',
      tree: first,
    });
    return { ...h, lostNode, first };
  }

  for (const verbose of [false, true]) {
    it(`a lost node the repair writes again makes it walk again before recording (verbose: ${verbose})`, async () => {
      const { dir, lostNode, first } = await lostThenWritten();
      const dry = await repairSnapshots(await openFresh(dir), { dryRun: true, verbose });
      expect(dry).toMatchObject({ lostWrittenAgain: 1, intact: 0 });
      expect(dry.repaired).toHaveLength(3);
      const walks: number[] = [];
      const report = await repairSnapshots(await openFresh(dir), {
        forget: true,
        verbose,
        onEvent: (e) => {
          if (e.type === 'rewalk') walks.push(e.pass);
        },
      });
      expect(walks).toEqual([2]);
      // The second walk finds the node stored: the roots over it are whole, and only the
      // directory with the lost file is repaired.
      expect(report).toMatchObject({ intact: 2, forgotten: 1 });
      expect(report.repaired).toHaveLength(1);
      expect(report.lostWrittenAgain).toBeUndefined();
      for (const kept of [first, lostNode]) {
        expect(await pathExists(join(dir, blobKey('tree', kept)))).toBe(true);
      }
      expect(await problems(dir)).toEqual([]);
    });
  }

  it('walks again as often as each walk stores another lost node', async () => {
    // s1: p/a/{b}; s2: p gains c.txt; s3: a gains a.txt. Lost: a's first node, p's first
    // node, and the chunks of a.txt and c.txt. Repairing s3 writes a's first node again;
    // walked again, repairing s2 writes p's first node again.
    const src = await tempDir();
    await writeTree(src, { p: { a: { 'b.txt': 'b'.repeat(300) } } });
    const { repo, dir } = await localRepo();
    const s1 = await backup(repo, { paths: [src], statCacheDir: false });
    await writeTree(join(src, 'p'), { 'c.txt': 'c'.repeat(400) });
    const s2 = await backup(repo, { paths: [src], statCacheDir: false });
    await writeTree(join(src, 'p', 'a'), { 'a.txt': 'a'.repeat(500) });
    const s3 = await backup(repo, { paths: [src], statCacheDir: false });
    const a1 = (await entryAt(repo, s1.snapshot.tree, 'p/a')) as DirEntry;
    const p1 = (await entryAt(repo, s1.snapshot.tree, 'p')) as DirEntry;
    const aTxt = (await entryAt(repo, s3.snapshot.tree, 'p/a/a.txt')) as FileEntry;
    const cTxt = (await entryAt(repo, s2.snapshot.tree, 'p/c.txt')) as FileEntry;
    for (const key of [
      blobKey('tree', a1.tree),
      blobKey('tree', p1.tree),
      blobKey('data', aTxt.chunks[0]!.id),
      blobKey('data', cTxt.chunks[0]!.id),
    ]) {
      await rm(join(dir, key));
    }
    const walks: number[] = [];
    const report = await repairSnapshots(await openFresh(dir), {
      forget: true,
      onEvent: (e) => {
        if (e.type === 'rewalk') walks.push(e.pass);
      },
    });
    expect(walks).toEqual([2, 3]);
    expect(report.repaired.map((r) => r.from).sort()).toEqual(
      [s2.snapshotId, s3.snapshotId].sort(),
    );
    expect(report.intact).toBe(1);
    expect(await problems(dir)).toEqual([]);
    const again = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(again).toMatchObject({ repaired: [], intact: 3, deletedTrees: 0 });
  });

  it('the same through a page judged on its content in a hostile directory', async () => {
    const h = await hostileRepo();
    const lostNode = await h.putLeaf([fileWire('b')]);
    await rm(join(h.dir, blobKey('tree', lostNode)));
    const repairsToIt = await h.putLeaf([lostFileWire('a'), fileWire('b')]);
    const holder = await h.putLeaf([dirWire('d', lostNode)]);
    const { hostile } = await overlappingDirectories(
      [fileWire('b'), fileWire('q')],
      [dirWire('p', holder), fileWire('r')],
      h,
    );
    const older = await h.putSnapshot(
      await h.putLeaf([dirWire('h', hostile), dirWire('z', repairsToIt)]),
    );
    await h.repo.snapshots.write({
      ...older.snapshot,
      time: '2026-11-22T12:00:00.000Z',
      tree: holder,
    });
    const report = await repairSnapshots(await openFresh(h.dir), { forget: true });
    expect(report.intact).toBe(1);
    expect(await pathExists(join(h.dir, blobKey('tree', holder)))).toBe(true);
    expect(await problems(h.dir)).toEqual([]);
  });

  it('a page that does not fit under the directory node is deleted after it', async () => {
    const h = await hostileRepo();
    const p1 = await h.putLeaf([fileWire('b'), fileWire('q')]);
    const p3 = await h.putLeaf([fileWire('p'), lostFileWire('r')]); // overlaps p1
    const root = await h.putTree(
      encodeIndex([
        { first: 'b', tree: p1, count: 2 },
        { first: 'p', tree: p3, count: 2 },
      ]),
    );
    await h.putSnapshot(root);
    const backend = new RecordsDeletes(new LocalBackend(h.dir));
    await repairSnapshots(await openRepositoryIn(backend), { forget: true });
    const at = (id: string) => backend.deleted.indexOf(blobKey('tree', id));
    expect(at(p3)).toBeGreaterThanOrEqual(0);
    expect(at(root)).toBeLessThan(at(p3));
  });
});

describe('repair of a directory whose index nodes share pages', () => {
  it('walks each node once, not once per path through the shared nodes', async () => {
    const h = await hostileRepo();
    const fanOut = 8;
    // Three levels: each an index of `fanOut` wrappers [a leaf of one name, the level
    // below], all pointing at the same node. Past the first path every page overlaps,
    // so nothing after it advances the order: walked per path, that is 8^3 paths.
    let below = { tree: await h.putLeaf([fileWire('x')]), first: 'x', count: 1 };
    for (const level of ['3', '2', '1']) {
      const pages = [];
      for (let i = 0; i < fanOut; i++) {
        const name = `${level}${i}`;
        const wrapper = await h.putTree(
          encodeIndex([{ first: name, tree: await h.putLeaf([fileWire(name)]), count: 1 }, below]),
        );
        pages.push({ first: name, tree: wrapper, count: 1 + below.count });
      }
      below = {
        tree: await h.putTree(encodeIndex(pages)),
        first: pages[0]!.first,
        count: pages.reduce((n, p) => n + p.count, 0),
      };
    }
    await h.putSnapshot(below.tree);
    let damaged = 0;
    const report = await repairSnapshots(await openFresh(h.dir), {
      dryRun: true,
      verbose: true,
      onEvent: (e) => {
        if (e.type === 'damaged') damaged++;
      },
    });
    expect(report.repaired).toHaveLength(1);
    // One lost node per page reference met after the first path (3 levels of 8
    // wrappers, two references each), not one per path.
    expect(damaged).toBeLessThan(3 * fanOut * 2);
    expect(damaged).toBeGreaterThan(0);
  });
});

describe('repair walking again', () => {
  /**
   * s1: p/a/{b} (and an empty e/, met before p); s2: a gains a.txt. Lost: a's first
   * node and a.txt's chunk (and the empty directory's node).
   */
  async function aLostAndRepairedToIt(withEmpty: boolean) {
    const src = await tempDir();
    await writeTree(src, {
      p: { a: { 'b.txt': 'b'.repeat(300) } },
      ...(withEmpty ? { e: {} } : {}),
    });
    const { repo, dir } = await localRepo();
    const s1 = await backup(repo, { paths: [src], statCacheDir: false });
    await writeTree(join(src, 'p', 'a'), { 'a.txt': 'a'.repeat(500) });
    const s2 = await backup(repo, { paths: [src], statCacheDir: false });
    const a1 = (await entryAt(repo, s1.snapshot.tree, 'p/a')) as DirEntry;
    const aTxt = (await entryAt(repo, s2.snapshot.tree, 'p/a/a.txt')) as FileEntry;
    const keys = [blobKey('tree', a1.tree), blobKey('data', aTxt.chunks[0]!.id)];
    if (withEmpty) {
      keys.push(blobKey('tree', ((await entryAt(repo, s1.snapshot.tree, 'e')) as DirEntry).tree));
    }
    for (const key of keys) await rm(join(dir, key));
    return { dir, a1 };
  }

  it('counts what an earlier walk restored', async () => {
    const { dir } = await aLostAndRepairedToIt(true);
    const dry = await repairSnapshots(await openFresh(dir), { dryRun: true });
    let walks = 0;
    const report = await repairSnapshots(await openFresh(dir), {
      forget: true,
      onEvent: (e) => {
        if (e.type === 'rewalk') walks++;
      },
    });
    expect(walks).toBe(1);
    expect(dry.restoredTrees).toBe(1);
    expect(report.restoredTrees).toBe(1);
    expect(await problems(dir)).toEqual([]);
  });

  it('a written node that still reads back lost stops the run after one more walk', async () => {
    const { dir, a1 } = await aLostAndRepairedToIt(false);
    const ignoring = new IgnoresPuts(new LocalBackend(dir), blobKey('tree', a1.tree));
    let walks = 0;
    await expect(
      repairSnapshots(await openRepositoryIn(ignoring), {
        forget: true,
        onEvent: (e) => {
          if (e.type === 'rewalk') walks++;
        },
      }),
    ).rejects.toThrow(/was written again by the repair and still reads back missing or corrupt/);
    expect(walks).toBe(1);
    expect(ignoring.ignored).toBe(2);
  });
});
