/**
 * `rewrite`: a snapshot without what the patterns match is the tree a backup with those
 * excludes makes (same ids, same counts); unchanged snapshots and subtrees are left as
 * they are; the memo spares listings in later snapshots; `forget`, dry runs, path
 * patterns, prune afterwards, and trees thousands of directories deep.
 */
import { link, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Backend, GetOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import type { ObjectId } from '../../src/core/ids.js';
import type { Entry } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import { forget } from '../../src/ops/forget.js';
import { prune } from '../../src/ops/prune.js';
import { restore } from '../../src/ops/restore.js';
import { type RewriteEvent, rewrite } from '../../src/ops/rewrite.js';
import { tagSnapshots } from '../../src/ops/tag.js';
import { walkTree } from '../../src/ops/walk.js';
import { blobKey, LOCKS_PREFIX } from '../../src/repo/layout.js';
import { openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { dirEntry, fileEntry } from '../helpers/entries.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { indexedIds, localRepo, memoryRepo } from '../helpers/repo.js';

async function objectCount(repo: Repository): Promise<number> {
  let n = 0;
  for await (const _ of repo.backend.list('')) n++;
  return n;
}

/** Removes every lock at its first read of a tree node. */
class RemovesLocksOnTreeRead extends ForwardingBackend {
  private done = false;
  override async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    if (!this.done && key.startsWith('tree/')) {
      this.done = true;
      await removeAllLocks(this.inner);
    }
    return super.get(key, options);
  }
}

/** Deletes every lock, as `unlock --remove-all` elsewhere would. */
async function removeAllLocks(backend: Backend): Promise<void> {
  const keys: string[] = [];
  for await (const info of backend.list(LOCKS_PREFIX)) keys.push(info.key);
  for (const key of keys) await backend.delete(key);
}

async function paths(repo: Repository, tree: ObjectId): Promise<string[]> {
  const out: string[] = [];
  for await (const { path } of walkTree(repo, tree)) out.push(path);
  return out;
}

const SOURCE = {
  'app.js': 'console.log(1)'.repeat(100),
  '.env': 'SECRET=1',
  config: { '.env': 'SECRET=2', 'app.conf': 'c' },
  node_modules: {
    left: { 'index.js': 'x'.repeat(3000), deep: { 'a.js': 'a' } },
    'b.js': 'b',
    '.bin': { tool: { link: '../left/index.js' } },
  },
  docs: { 'guide.md': 'g', secret: { 'plan.txt': 'p'.repeat(500) } },
  link: { link: 'app.js' },
};

describe('rewrite', () => {
  it('gives the tree and counts a backup with the same excludes gives', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const { repo } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false, tags: ['t'] });
    const exclude = ['.env', 'node_modules', '/docs/secret', 'link'];
    const events: RewriteEvent[] = [];
    const report = await rewrite(repo, { exclude, onEvent: (e) => events.push(e) });
    expect(report).toMatchObject({ unchanged: 0, forgotten: 0, dryRun: false });
    const [done] = report.rewritten;
    expect(done!.from).toBe(full.snapshotId);
    expect(done!.removed).toEqual({
      files: 6,
      dirs: 5,
      others: 2,
      bytes: 8 + 8 + 3000 + 1 + 1 + 500,
    });

    // The original stays (no forget); the repository checks clean; readers that cannot
    // list find both records.
    expect(await repo.snapshots.ids()).toContain(full.snapshotId);
    expect((await check(repo, { readData: true })).problems).toEqual([]);
    expect(await indexedIds(repo)).toEqual([full.snapshotId!, done!.id!].sort());
    // The replacement is the newer of the two (same time): latest, the retention rules
    // and the next backup's parent take it.
    expect((await repo.snapshots.resolve('latest')).id).toBe(done!.id);
    const kept = await forget(repo, { policy: { last: 1 }, dryRun: true });
    expect(kept.removed).toEqual([full.snapshotId]);
    // Backup's patterns see source paths; rewrite's, as find's, paths in the snapshot.
    const sourceExclude = exclude.map((p) => (p.startsWith('/') ? `${src}${p}` : p));
    const without = await backup(repo, {
      paths: [src],
      statCacheDir: false,
      excludes: sourceExclude,
    });
    const rewritten = await repo.snapshots.load(done!.id!);
    expect(rewritten.tree).toBe(without.snapshot.tree);
    const { files, dirs, bytes } = without.snapshot.summary;
    expect(rewritten.summary).toMatchObject({ files, dirs, bytes });
    // Everything else of the record is the original's, plus `original`.
    const original = await repo.snapshots.load(full.snapshotId!);
    expect(rewritten).toEqual({
      ...original,
      tree: rewritten.tree,
      summary: { ...original.summary, files, dirs, bytes },
      original: full.snapshotId,
      rewrites: 1,
    });
    expect(events.filter((e) => e.type === 'rewritten')).toHaveLength(1);
  });

  it('stays the newer when both records are tagged afterwards (their originals gone)', async () => {
    // tag replaces the kept original A by A' and the rewrite B by B', deleting A and B:
    // nothing links B' to A' any more, and their ids alone would order them by chance.
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const repo = await memoryRepo();
    await backup(repo, { paths: [src], statCacheDir: false });
    const report = await rewrite(repo, { exclude: ['.env'] });
    const cleanTree = (await repo.snapshots.load(report.rewritten[0]!.id!)).tree;
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
      await tagSnapshots(repo, { add: [name] });
      const latest = await repo.snapshots.resolve('latest');
      expect(latest.snapshot.tree).toBe(cleanTree);
      expect(latest.snapshot.tags).toContain(name);
      const kept = await forget(repo, { policy: { last: 1 }, dryRun: true });
      expect(kept.removed).not.toContain(latest.id);
    }
  });

  it('stays the newer when only the original it kept is tagged, again and again', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const repo = await memoryRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false });
    const report = await rewrite(repo, { exclude: ['.env'] });
    const clean = report.rewritten[0]!.id!;
    let original = full.snapshotId!;
    for (const name of ['a', 'b', 'c']) {
      const tagged = await tagSnapshots(repo, { snapshots: [original], add: [name] });
      original = tagged.changed[0]!.id;
      expect((await repo.snapshots.resolve('latest')).id).toBe(clean);
      const kept = await forget(repo, { policy: { last: 1 }, dryRun: true });
      expect(kept.removed).toEqual([original]);
    }
    // A second rewrite (of the original, with another pattern) is then the newest.
    const second = await rewrite(repo, { snapshots: [original], exclude: ['docs'] });
    expect((await repo.snapshots.resolve('latest')).id).toBe(second.rewritten[0]!.id);
  });

  it('chosen by filter, leaves alone what an earlier rewrite replaced, and finds rewrites made before', async () => {
    const src = await tempDir();
    await writeTree(src, { 'a.key': 'a', 'b.key': 'b', data: 'd' });
    const repo = await memoryRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false });
    const first = await rewrite(repo, { snapshots: ['latest'], exclude: ['*.key'] });
    const clean = first.rewritten[0]!.id!;
    // A narrower pattern over every snapshot: the original would become a record holding
    // b.key that outranks the clean one. It is left alone instead.
    const narrower = await rewrite(repo, { exclude: ['a.key'] });
    expect(narrower).toMatchObject({ rewritten: [], unchanged: 1, superseded: [full.snapshotId] });
    expect((await repo.snapshots.resolve('latest')).id).toBe(clean);
    // The clean record tagged; then the rewrite again, with --forget, over every snapshot
    // (as to finish one stopped before its --forget): the rewrite is there already.
    const tagged = (await tagSnapshots(repo, { snapshots: [clean], add: ['keep'] })).changed[0]!.id;
    // A dry run finds it too (its trees get the ids a run would write).
    const preview = await rewrite(repo, { exclude: ['*.key'], forget: true, dryRun: true });
    expect(preview.rewritten).toEqual([
      { from: full.snapshotId, id: tagged, removed: expect.anything(), existing: true },
    ]);
    const rerun = await rewrite(repo, { exclude: ['*.key'], forget: true });
    expect(rerun.rewritten).toEqual([
      { from: full.snapshotId, id: tagged, removed: expect.anything(), existing: true },
    ]);
    expect(rerun.forgotten).toBe(1);
    expect(await repo.snapshots.ids()).toEqual([tagged]);
  });

  it('tells backups of the same time apart: neither is taken for a version of the other', async () => {
    const src = await tempDir();
    await writeTree(src, { 'a.txt': 'a', 'secret.key': 'k' });
    const repo = await memoryRepo();
    const time = new Date('2024-01-01T00:00:00Z');
    const kept = await backup(repo, { paths: [src], statCacheDir: false, time, tags: ['keep'] });
    const plain = await backup(repo, { paths: [src], statCacheDir: false, time });
    const both = await rewrite(repo, { exclude: ['*.key'], forget: true });
    expect(both.rewritten.map((r) => [r.from, r.existing ?? false])).toEqual(
      expect.arrayContaining([
        [kept.snapshotId, false],
        [plain.snapshotId, false],
      ]),
    );
    const left = await repo.snapshots.list();
    expect(left).toHaveLength(2);
    expect(left.some((r) => r.snapshot.tags.includes('keep'))).toBe(true);

    // Another backup of the same time, with other content: not superseded by the first's rewrite.
    await writeTree(src, { 'b.txt': 'b' });
    const other = await backup(repo, { paths: [src], statCacheDir: false, time });
    const again = await rewrite(repo, { exclude: ['*.key'], forget: true });
    expect(again.superseded).toEqual([]);
    expect(again.rewritten.map((r) => r.from)).toEqual([other.snapshotId]);
    for (const r of await repo.snapshots.list()) {
      expect(await repo.trees.lookup(r.snapshot.tree, 'secret.key')).toBeUndefined();
    }
  });

  it('gives the same tree as a backup for paged directories, hard links and byte names', async () => {
    const src = await tempDir();
    await mkdir(join(src, 'big'));
    for (let i = 0; i < 6000; i++) {
      await writeFile(join(src, 'big', `f${String(i).padStart(5, '0')}.txt`), `${i}`.repeat(8));
    }
    await writeFile(join(src, 'big', 'f01500.key'), 'k');
    await writeTree(src, { a: { x: 'linked '.repeat(50) }, b: {} });
    await link(join(src, 'a', 'x'), join(src, 'b', 'x'));
    const bytes = (name: number[]) => Buffer.concat([Buffer.from(`${src}/b/`), Buffer.from(name)]);
    await writeFile(bytes([0x66, 0xff, 0x2e, 0x6b, 0x65, 0x79]), 'not utf-8, excluded');
    await writeFile(bytes([0x67, 0xfe]), 'not utf-8, kept');
    const { repo } = await localRepo();
    await backup(repo, { paths: [src], statCacheDir: false });
    const big = await repo.trees.lookup((await repo.snapshots.list())[0]!.snapshot.tree, 'big');
    expect((await repo.trees.nodeIds((big as { tree: string }).tree)).length).toBeGreaterThan(1);
    const report = await rewrite(repo, { exclude: ['*.key', '/a/x'] });
    const without = await backup(repo, {
      paths: [src],
      statCacheDir: false,
      excludes: ['*.key', `${src}/a/x`],
    });
    const rewritten = await repo.snapshots.load(report.rewritten[0]!.id!);
    expect(rewritten.tree).toBe(without.snapshot.tree);
    const { files, dirs, bytes: size } = without.snapshot.summary;
    expect(rewritten.summary).toMatchObject({ files, dirs, bytes: size });
  });

  it('writes what a prune swept since the handle was opened again', async () => {
    const src = await tempDir();
    await writeTree(src, { a: { secret: 's', keep: 'k'.repeat(100) }, b: 'b' });
    const { repo: first, dir } = await localRepo();
    const full = await backup(first, { paths: [src], statCacheDir: false });
    const handle = await openRepositoryIn(new LocalBackend(dir), { inventory: 'off' });
    const once = await rewrite(handle, { exclude: ['secret'], snapshots: [full.snapshotId!] });
    // Elsewhere, the new record is forgotten and its trees swept.
    const other = await openRepositoryIn(new LocalBackend(dir));
    await forget(other, { snapshots: [once.rewritten[0]!.id!] });
    const swept = await prune(other, { graceMs: 0 });
    expect(swept.deletedTrees).toBeGreaterThan(0);
    // The same handle rewrites the same snapshot again: it must store those trees again.
    const again = await rewrite(handle, { exclude: ['secret'], snapshots: [full.snapshotId!] });
    expect(again.rewritten[0]!.id).toBe(once.rewritten[0]!.id);
    expect((await check(other)).problems).toEqual([]);
  });

  it('rewrites the other snapshots when one has a tree that cannot be read', async () => {
    const src = await tempDir();
    await writeTree(src, { d: { 'x.key': 'k', 'y.txt': 'y' } });
    const { repo } = await localRepo();
    const damaged = await backup(repo, { paths: [src], statCacheDir: false });
    await writeTree(src, { e: { 'z.key': 'z' } });
    const fine = await backup(repo, { paths: [src], statCacheDir: false });
    // The first snapshot's root node (the second has another root: it holds e too).
    await repo.backend.delete(blobKey('tree', damaged.snapshot.tree));
    const events: RewriteEvent[] = [];
    const report = await rewrite(repo, { exclude: ['*.key'], onEvent: (e) => events.push(e) });
    expect(report.failed.map((f) => f.id)).toEqual([damaged.snapshotId]);
    expect(report.rewritten.map((r) => r.from)).toEqual([fine.snapshotId]);
    expect(events.find((e) => e.type === 'failed')).toMatchObject({
      snapshot: damaged.snapshotId,
    });
  });

  it('names the patterns that matched nothing', async () => {
    const src = await tempDir();
    await writeTree(src, { 'a.key': 'k', b: { 'c.txt': 'c' } });
    const { repo } = await localRepo();
    await backup(repo, { paths: [src], statCacheDir: false });
    const report = await rewrite(repo, {
      exclude: ['*.key', `${src}/b/c.txt`, 'nothing'],
      dryRun: true,
    });
    expect(report.unmatched).toEqual([`${src}/b/c.txt`, 'nothing']);
    expect(report.sourcePaths).toEqual([src]);
  });

  it('commits nothing when its lock was removed while it ran', async () => {
    const src = await tempDir();
    await writeTree(src, { 'a.key': 'k', b: { 'c.txt': 'c' } });
    const { repo: first, dir } = await localRepo();
    const full = await backup(first, { paths: [src], statCacheDir: false });
    // The first tree read (after the lock is taken) removes every lock.
    const repo = await openRepositoryIn(new RemovesLocksOnTreeRead(new LocalBackend(dir)));
    const err = await rewrite(repo, { exclude: ['*.key'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'locked' });
    expect(await first.snapshots.ids()).toEqual([full.snapshotId]);
  });

  it('leaves snapshots without a match alone and says which paths it removes with verbose', async () => {
    const src = await tempDir();
    await writeTree(src, { a: { 'x.log': 'l', 'y.txt': 'y' }, b: { 'z.txt': 'z' } });
    const { repo } = await localRepo();
    const first = await backup(repo, { paths: [src], statCacheDir: false });
    await writeFile(join(src, 'b', 'new.tmp'), 't');
    const second = await backup(repo, { paths: [src], statCacheDir: false });
    const objects = await objectCount(repo);
    const none = await rewrite(repo, { exclude: ['*.nothing'] });
    expect(none).toMatchObject({ rewritten: [], unchanged: 2 });
    expect(await objectCount(repo)).toBe(objects); // nothing written, not even a lock left

    const events: RewriteEvent[] = [];
    const dry = await rewrite(repo, {
      exclude: ['*.tmp', '*.log'],
      dryRun: true,
      verbose: true,
      onEvent: (e) => events.push(e),
    });
    expect(await objectCount(repo)).toBe(objects);
    expect(dry.rewritten.map((r) => [r.from, r.id, r.removed.files])).toEqual([
      [first.snapshotId, undefined, 1],
      [second.snapshotId, undefined, 2],
    ]);
    const excluded = events.flatMap((e) => (e.type === 'excluded' ? [[e.snapshot, e.path]] : []));
    expect(excluded).toEqual([
      [first.snapshotId, 'a/x.log'],
      [second.snapshotId, 'a/x.log'],
      [second.snapshotId, 'b/new.tmp'],
    ]);
  });

  it('reads a shared subtree once across snapshots for name patterns, in full for path patterns', async () => {
    const src = await tempDir();
    const spec: Record<string, Record<string, string>> = {};
    for (let d = 0; d < 20; d++) spec[`d${d}`] = { 'a.txt': String(d), 'c.key': String(d) };
    await writeTree(src, spec);
    const { repo } = await localRepo();
    await backup(repo, { paths: [src], statCacheDir: false });
    await writeFile(join(src, 'd3', 'a.txt'), 'changed');
    await backup(repo, { paths: [src], statCacheDir: false });
    const listings = vi.spyOn(repo.trees, 'entries');
    const byName = await rewrite(repo, { exclude: ['*.key'] });
    expect(byName.rewritten).toHaveLength(2);
    // First snapshot: root and 20 folders, each listed twice (decide, then write). The
    // second: its root twice and the one changed folder twice; the other 19 come from
    // the memo.
    expect(listings.mock.calls.length).toBe(2 * 21 + 2 * 2);
    listings.mockClear();
    const byPath = await rewrite(repo, { exclude: ['/d1/a.txt'], snapshots: ['latest'] });
    expect(byPath.rewritten).toHaveLength(1);
    // Root and 20 folders to decide, then d1 and the root again to write.
    expect(listings.mock.calls.length).toBe(21 + 2);
    const newest = await repo.snapshots.load(byPath.rewritten[0]!.id!);
    const left = await paths(repo, newest.tree);
    expect(left).not.toContain('d1/a.txt');
    expect(left).toContain('d2/a.txt');
  });

  it('forgets the originals when asked; prune then reclaims what only they held', async () => {
    const src = await tempDir();
    await writeTree(src, { 'keep.bin': 'k'.repeat(5000), 'huge.iso': 'h'.repeat(20_000) });
    const { repo } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false });
    const report = await rewrite(repo, { exclude: ['*.iso'], forget: true });
    expect(report.forgotten).toBe(1);
    const ids = await repo.snapshots.ids();
    expect(ids).toEqual([report.rewritten[0]!.id]);
    expect(ids).not.toContain(full.snapshotId);
    const pruned = await prune(repo, { graceMs: 0 });
    expect(pruned.deletedData).toBeGreaterThan(0);
    expect((await check(repo, { readData: true })).problems).toEqual([]);
    const target = await tempDir();
    await restore(repo, ids[0]!, await repo.snapshots.load(ids[0]!), { target });
    expect((await readdir(target)).sort()).toEqual(['keep.bin']);
  });

  it('rewrites a tree 4000 directories deep', async () => {
    const repo = await memoryRepo();
    const write = async (entries: Entry[]) => {
      const w = repo.directoryWriter();
      for (const e of entries) await w.add(e);
      return (await w.finish()).tree;
    };
    const dir = (tree: ObjectId, files: number, bytes: number) => dirEntry('d', tree, files, bytes);
    const bytes = (s: string) => new TextEncoder().encode(s);
    let tree = await write([fileEntry('keep', 0, bytes('k')), fileEntry('secret', 0, bytes('ss'))]);
    let expected = await write([fileEntry('keep', 0, bytes('k'))]);
    for (let level = 0; level < 4000; level++) {
      tree = await write([dir(tree, 2, 3)]);
      expected = await write([dir(expected, 1, 1)]);
    }
    const { snapshotId } = await backup(repo, { paths: [await tempDir()], statCacheDir: false });
    const snapshot = await repo.snapshots.load(snapshotId!);
    const id = await repo.snapshots.write({ ...snapshot, tree });
    await repo.backend.delete(`snapshots/${snapshotId}`);
    const report = await rewrite(repo, { exclude: ['secret'], snapshots: [id] });
    expect(report.rewritten[0]!.removed).toMatchObject({ files: 1, bytes: 2 });
    expect((await repo.snapshots.load(report.rewritten[0]!.id!)).tree).toBe(expected);
  });

  it('counts the directories inside a removed one', async () => {
    const src = await tempDir();
    await mkdir(join(src, 'cache', 'a', 'b', 'c'), { recursive: true });
    await mkdir(join(src, 'cache', 'x'), { recursive: true });
    await writeFile(join(src, 'cache', 'a', 'b', 'c', 'f'), 'f');
    await writeFile(join(src, 'top'), 't');
    const { repo } = await localRepo();
    const full = await backup(repo, { paths: [src], statCacheDir: false });
    const report = await rewrite(repo, { exclude: ['cache'] });
    expect(report.rewritten[0]!.removed).toEqual({ files: 1, dirs: 5, others: 0, bytes: 1 });
    const after = await repo.snapshots.load(report.rewritten[0]!.id!);
    expect(after.summary.dirs).toBe(full.snapshot.summary.dirs - 5);
    expect(after.summary.files).toBe(1);
  });

  it('refuses no patterns and empty ones before taking a lock', async () => {
    const repo = await memoryRepo();
    await expect(rewrite(repo, { exclude: [] })).rejects.toThrow(/needs patterns/);
    await expect(rewrite(repo, { exclude: [''] })).rejects.toThrow(/needs patterns/);
    await expect(rewrite(repo, { exclude: ['[z-a]'] })).rejects.toThrow(/z-a/);
  });

  it('with selectors, takes latest among the snapshots the filter matches', async () => {
    const src = await tempDir();
    await writeTree(src, SOURCE);
    const repo = await memoryRepo();
    const mine = await backup(repo, { paths: [src], statCacheDir: false, hostname: 'mine' });
    await backup(repo, { paths: [src], statCacheDir: false, hostname: 'other' });
    const report = await rewrite(repo, {
      exclude: ['.env'],
      snapshots: ['latest'],
      filter: { hostname: 'mine' },
      forget: true,
    });
    expect(report.rewritten.map((r) => r.from)).toEqual([mine.snapshotId]);
    await expect(
      rewrite(repo, { exclude: ['x'], snapshots: ['latest'], filter: { hostname: 'none' } }),
    ).rejects.toThrow(/no snapshot matches latest among those with host "none"/);
  });
});
