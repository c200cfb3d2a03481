/**
 * `repairSnapshots` when reads are not reliable and other clients work beside it (found
 * by review): a tree node misread once, a directory read differently by the two passes,
 * a backup in progress or committed while the repair ran, a run stopped among its data
 * deletions, and pages that overlap. In each, nothing sound is deleted or left out.
 */
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CallOptions, GetOptions, PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { BackendError, NotFoundError } from '../../src/core/errors.js';
import { encodeIndex } from '../../src/manifest/tree-codec.js';
import type { DirEntry, FileEntry } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { forget } from '../../src/ops/forget.js';
import { repairSnapshots } from '../../src/ops/repair.js';
import { walkTree } from '../../src/ops/walk.js';
import { blobKey, SNAPSHOTS_PREFIX } from '../../src/repo/layout.js';
import { Lock } from '../../src/repo/locks.js';
import { openRepositoryIn } from '../../src/repo/repository.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { dirWire, fileWire, hostileRepo } from '../helpers/hostile-repo.js';
import { entryAt, openFresh, problems } from '../helpers/repair-fixtures.js';
import { localRepo } from '../helpers/repo.js';

const SOURCE = {
  sub: { deeper: { 'd.txt': 'd'.repeat(700) }, 'c.txt': 'c'.repeat(500) },
  'x.txt': 'x'.repeat(300),
};

/** Flips a byte of the reads of `key` whose numbers (from 1) are in `flips`: the stored object stays sound. */
class FlipsReads extends ForwardingBackend {
  reads = 0;
  constructor(
    inner: LocalBackend,
    private readonly key: string,
    private readonly flips: readonly number[] = [],
  ) {
    super(inner);
  }
  override async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    const bytes = await super.get(key, options);
    if (key !== this.key || !this.flips.includes(++this.reads)) return bytes;
    const copy = Uint8Array.from(bytes);
    copy[copy.length - 1]! ^= 0xff;
    return copy;
  }
}

/** Fails every read of `key` until `until` is read (a tree node that reads wrong for a while). */
class FailsUntil extends ForwardingBackend {
  private failing = true;
  constructor(
    inner: LocalBackend,
    private readonly key: string,
    private readonly until: string,
  ) {
    super(inner);
  }
  override async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    if (key === this.until) this.failing = false;
    if (key === this.key && this.failing) throw new NotFoundError(`${key} (made to fail)`);
    return super.get(key, options);
  }
}

/**
 * Runs `hook` once: before the first snapshot record is written through it (`record`),
 * or at the first delete of a blob (`delete`: the repair's deletions).
 */
class HookOnce extends ForwardingBackend {
  constructor(
    inner: LocalBackend,
    private readonly at: 'record' | 'delete',
    private hook?: () => Promise<void>,
  ) {
    super(inner);
  }
  private async runHook(): Promise<void> {
    const h = this.hook;
    this.hook = undefined;
    await h?.();
  }
  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    if (this.at === 'record' && key.startsWith(SNAPSHOTS_PREFIX)) await this.runHook();
    return super.put(key, data, options);
  }
  override async delete(key: string, options?: CallOptions): Promise<void> {
    if (this.at === 'delete' && (key.startsWith('tree/') || key.startsWith('data/'))) {
      await this.runHook();
    }
    return super.delete(key, options);
  }
}

/** Fails every delete of a data blob, as a run stopped among them. */
class StopsAtDataDelete extends ForwardingBackend {
  override delete(key: string, options?: CallOptions): Promise<void> {
    if (key.startsWith('data/')) return Promise.reject(new BackendError(`stopped at ${key}`));
    return super.delete(key, options);
  }
}

const pathExists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function backedUp() {
  const src = await tempDir();
  await writeTree(src, SOURCE);
  const { repo, dir } = await localRepo();
  const first = await backup(repo, { paths: [src], statCacheDir: false });
  return { src, dir, repo, first };
}

/** A backup whose sub/deeper/d.txt has lost its only chunk. */
async function withLostChunk() {
  const b = await backedUp();
  const d = (await entryAt(b.repo, b.first.snapshot.tree, 'sub/deeper/d.txt')) as FileEntry;
  await rm(join(b.dir, blobKey('data', d.chunks[0]!.id)));
  return b;
}

describe('repair when a read goes wrong once', () => {
  it('a tree node misread once is read again: nothing to repair, nothing deleted', async () => {
    const { repo, dir, first } = await backedUp();
    const deeper = (await entryAt(repo, first.snapshot.tree, 'sub/deeper')) as DirEntry;
    const key = blobKey('tree', deeper.tree);
    const flaky = new FlipsReads(new LocalBackend(dir), key, [1]);
    const report = await repairSnapshots(await openRepositoryIn(flaky), { forget: true });
    expect(report).toMatchObject({ repaired: [], intact: 1, deletedTrees: 0, corruptTrees: 0 });
    expect(flaky.reads).toBeGreaterThanOrEqual(2);
    expect(await pathExists(join(dir, key))).toBe(true);
    expect(await problems(dir)).toEqual([]);
  });

  it('with verbose, two snapshots sharing a node misread once both stay whole', async () => {
    const { src, repo, dir, first } = await backedUp();
    await writeFile(join(src, 'new.txt'), 'new content here');
    await backup(repo, { paths: [src], statCacheDir: false });
    const deeper = (await entryAt(repo, first.snapshot.tree, 'sub/deeper')) as DirEntry;
    const flaky = new FlipsReads(new LocalBackend(dir), blobKey('tree', deeper.tree), [1]);
    const report = await repairSnapshots(await openRepositoryIn(flaky), { verbose: true });
    expect(report).toMatchObject({ repaired: [], intact: 2, deletedTrees: 0 });
    expect(await problems(dir)).toEqual([]);
  });

  it('a node found leading to damage, then whole in a later snapshot, stops the run', async () => {
    // m/d is shared by two snapshots; d reads wrong until the second snapshot's root is
    // read: the first finds m leading to damage, the second (verbose: walked again) whole.
    const src = await tempDir();
    await writeTree(src, { m: { d: { 'f.txt': 'f'.repeat(300) } } });
    const { repo, dir } = await localRepo();
    const s1 = await backup(repo, { paths: [src], statCacheDir: false });
    await writeFile(join(src, 'x.txt'), 'x'.repeat(300));
    const s2 = await backup(repo, { paths: [src], statCacheDir: false });
    const d = (await entryAt(repo, s1.snapshot.tree, 'm/d')) as DirEntry;
    const flaky = new FailsUntil(
      new LocalBackend(dir),
      blobKey('tree', d.tree),
      blobKey('tree', s2.snapshot.tree),
    );
    await expect(
      repairSnapshots(await openRepositoryIn(flaky), { forget: true, verbose: true }),
    ).rejects.toThrow(/was found to lead to damage, then whole: a read went wrong/);
    // Nothing was recorded or deleted; with good reads there is nothing to repair.
    const report = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(report).toMatchObject({ repaired: [], intact: 2, deletedTrees: 0 });
    expect(await problems(dir)).toEqual([]);
  });

  it('a directory the second pass reads differently stops the run before any deletion', async () => {
    // A directory of more pages than the repair's tree cache holds (long names: about
    // 1.5 MiB of entries), with a damaged file: the repair reads it twice.
    const src = await tempDir();
    await mkdir(join(src, 'big'));
    const long = '-'.repeat(200);
    for (let i = 0; i < 6000; i++) {
      await writeFile(join(src, 'big', `f${String(i).padStart(5, '0')}${long}`), `${i}`.repeat(8));
    }
    await writeFile(join(src, 'big', 'zz.bin'), 'big file content '.repeat(100));
    const { repo, dir } = await localRepo();
    const s = await backup(repo, { paths: [src], statCacheDir: false });
    const big = (await entryAt(repo, s.snapshot.tree, 'big')) as DirEntry;
    const index = await repo.trees.node(big.tree);
    if (index.kind !== 'index') throw new Error('expected a paged directory');
    const zz = (await entryAt(repo, s.snapshot.tree, 'big/zz.bin')) as FileEntry;
    await rm(join(dir, blobKey('data', zz.chunks[0]!.id)));
    const key = blobKey('tree', index.pages[0]!.tree);
    // How often a repair reads the first page, when every read goes well.
    const counting = new FlipsReads(new LocalBackend(dir), key);
    await repairSnapshots(await openRepositoryIn(counting), { dryRun: true });
    const reads = counting.reads;
    expect(reads).toBeGreaterThanOrEqual(2);
    // Its last read, and the read again after it, go wrong: the page is lost to the
    // second pass only.
    const late = new FlipsReads(new LocalBackend(dir), key, [reads, reads + 1]);
    await expect(repairSnapshots(await openRepositoryIn(late), { forget: true })).rejects.toThrow(
      /read differently the second time/,
    );
    // Its first read and the read again go wrong: lost to the first pass only.
    const early = new FlipsReads(new LocalBackend(dir), key, [1, 2]);
    await expect(repairSnapshots(await openRepositoryIn(early), { forget: true })).rejects.toThrow(
      /read differently the second time/,
    );
    // Nothing was forgotten or deleted; a run with good reads repairs the snapshot.
    const report = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(report.repaired).toHaveLength(1);
    expect(report.repaired[0]!.lost).toMatchObject({ files: 1, trees: 0, entries: 0 });
    const repaired = await openFresh(dir);
    const tree = (await repaired.snapshots.load(report.repaired[0]!.id!)).tree;
    let left = 0;
    for await (const e of walkTree(repaired, tree)) if (e.path.startsWith('big/')) left++;
    expect(left).toBe(6000);
    expect(await problems(dir)).toEqual([]);
  });
});

describe('repair beside backups', () => {
  it('a backup in progress postpones the deletions; a run after it does them', async () => {
    const { src, dir } = await withLostChunk();
    const other = await Lock.acquire(new LocalBackend(dir), {
      exclusive: false,
      operation: 'backup',
    });
    const report = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(report.postponed).toMatch(/1 backup\(s\) in progress/);
    expect(report).toMatchObject({ forgotten: 1, deletedTrees: 0, deletedBlobs: 0 });
    expect(report.damagedTrees).toBeGreaterThan(0);
    await other.release();
    const rerun = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(rerun.postponed).toBeUndefined();
    expect(rerun.deletedTrees).toBe(report.damagedTrees);
    await backup(await openFresh(dir), { paths: [src], statCacheDir: false });
    expect(await problems(dir)).toEqual([]);
  });

  it('a backup committed while the repair ran postpones the deletions it may rely on', async () => {
    const { src, dir } = await withLostChunk();
    let committed: string | undefined;
    const hooked = new HookOnce(new LocalBackend(dir), 'record', async () => {
      // Another machine backs up the same source (a shared lock is never refused): it
      // stores d.txt's chunk again and reuses the stored nodes above it.
      committed = (await backup(await openFresh(dir), { paths: [src], statCacheDir: false }))
        .snapshotId;
    });
    const report = await repairSnapshots(await openRepositoryIn(hooked), { forget: true });
    expect(committed).toBeDefined();
    expect(report.postponed).toMatch(/1 snapshot\(s\) were committed while the repair ran/);
    expect(report.deletedTrees).toBe(0);
    expect(await problems(dir)).toEqual([]);
    // Nothing below the new snapshot is lost any more: a rerun has nothing to delete.
    const rerun = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(rerun).toMatchObject({ repaired: [], deletedTrees: 0, deletedBlobs: 0 });
    expect(await problems(dir)).toEqual([]);
  });
});

describe('repair stopped or fed overlapping pages', () => {
  it('stopped among its data deletions, a rerun still finds the corrupt blob', async () => {
    const { src, repo, dir, first } = await backedUp();
    const d = (await entryAt(repo, first.snapshot.tree, 'sub/deeper/d.txt')) as FileEntry;
    const file = join(dir, blobKey('data', d.chunks[0]!.id));
    const bytes = await readFile(file);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(file, bytes);
    const stopping = await openRepositoryIn(new StopsAtDataDelete(new LocalBackend(dir)));
    await expect(repairSnapshots(stopping, { forget: true, readData: true })).rejects.toThrow(
      /stopped/,
    );
    const rerun = await repairSnapshots(await openFresh(dir), { forget: true, readData: true });
    expect(rerun).toMatchObject({ damagedBlobs: 1, deletedBlobs: 1 });
    expect(rerun.deletedTrees).toBeGreaterThan(0);
    await backup(await openFresh(dir), { paths: [src], statCacheDir: false, force: true });
    expect(await problems(dir)).toEqual([]);
  });

  it('an index whose pages overlap is deleted, whether a snapshot reaches it or not', async () => {
    const { dir, putLeaf, putTree, putSnapshot } = await hostileRepo();
    const inner = await putLeaf([fileWire('inner')]);
    const page1 = await putLeaf([fileWire('a'), fileWire('x')]);
    const page2 = await putLeaf([fileWire('x'), fileWire('y')]);
    const overlapping = await putTree(
      encodeIndex([
        { first: 'a', tree: page1, count: 2 },
        { first: 'x', tree: page2, count: 2 },
      ]),
    );
    // One snapshot reaches it; another, forgotten, reached one like it through a
    // directory: only the listing of tree/ finds that one.
    const reached = await putSnapshot(overlapping);
    const page3 = await putLeaf([fileWire('b'), fileWire('z')]);
    const page4 = await putLeaf([fileWire('m')]);
    const unreached = await putTree(
      encodeIndex([
        { first: 'b', tree: page3, count: 2 },
        { first: 'm', tree: page4, count: 1 },
      ]),
    );
    const holder = await putLeaf([dirWire('d', unreached), dirWire('e', inner)]);
    const gone = await putSnapshot(holder);
    await forget(await openFresh(dir), { snapshots: [gone.id] });
    const report = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(report.repaired.map((r) => r.from)).toEqual([reached.id]);
    expect(report.repaired[0]!.lost).toMatchObject({ trees: 1, entries: 2 });
    for (const deleted of [overlapping, unreached, holder]) {
      expect(await pathExists(join(dir, blobKey('tree', deleted)))).toBe(false);
    }
    // The pages and the sound directory are nodes of their own: they stay.
    for (const kept of [page1, page2, page3, page4, inner]) {
      expect(await pathExists(join(dir, blobKey('tree', kept)))).toBe(true);
    }
    const repaired = await openFresh(dir);
    const names: string[] = [];
    for await (const e of walkTree(repaired, (await repaired.snapshots.list({}))[0]!.snapshot.tree))
      names.push(e.path);
    expect(names).toEqual(['a', 'x']);
  });
});

describe("repair's deletions", () => {
  it('a corrupt node the repair writes again, sound, is found sound by a second walk', async () => {
    const src = await tempDir();
    await writeTree(src, { sub: { 'a.txt': 'a'.repeat(500) } });
    const { repo, dir } = await localRepo();
    // The earlier snapshot holds sub {a} (made corrupt below); the later one sub {a, b},
    // whose repair (b's chunk lost) writes sub {a} again, after the walk found it corrupt.
    const earlier = await backup(repo, { paths: [src], statCacheDir: false });
    await writeFile(join(src, 'sub', 'b.txt'), 'b'.repeat(500));
    const later = await backup(repo, { paths: [src], statCacheDir: false });
    const b = (await entryAt(repo, later.snapshot.tree, 'sub/b.txt')) as FileEntry;
    const sub = (await entryAt(repo, earlier.snapshot.tree, 'sub')) as DirEntry;
    await rm(join(dir, blobKey('data', b.chunks[0]!.id)));
    const file = join(dir, blobKey('tree', sub.tree));
    const bytes = await readFile(file);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(file, bytes);
    // Written again, the node is sound: walked again, the earlier snapshot is whole. The
    // node counts as found corrupt, and nothing corrupt is deleted.
    const report = await repairSnapshots(await openFresh(dir), { forget: true });
    expect(report).toMatchObject({
      intact: 1,
      corruptTrees: 1,
      deletedCorruptTrees: 0,
      deletedTrees: 2,
      forgotten: 1,
    });
    expect(report.repaired.map((r) => r.from)).toEqual([later.snapshotId]);
    expect(await problems(dir)).toEqual([]);
  });

  it('a backup starting while the repair deletes waits for the deletions to end', async () => {
    const { src, dir } = await withLostChunk();
    let backupDone = false;
    let backupRun: Promise<unknown> | undefined;
    let doneWhileDeleting: boolean | undefined;
    const hooked = new HookOnce(new LocalBackend(dir), 'delete', async () => {
      backupRun = backup(await openFresh(dir), { paths: [src], statCacheDir: false }).then(() => {
        backupDone = true;
      });
      // Long enough for the backup to finish, had it not to wait (it takes a fraction of
      // this); the repair's lock says it is sweeping meanwhile.
      await new Promise((r) => setTimeout(r, 1500));
      doneWhileDeleting = backupDone;
    });
    const report = await repairSnapshots(await openRepositoryIn(hooked), { forget: true });
    expect(report.postponed).toBeUndefined();
    expect(report.deletedTrees).toBeGreaterThan(0);
    expect(doneWhileDeleting).toBe(false);
    await backupRun;
    expect(backupDone).toBe(true);
    expect(await problems(dir)).toEqual([]);
  });
});
