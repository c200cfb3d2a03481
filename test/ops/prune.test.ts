/**
 * forget + prune: exactly the unreferenced blobs go, the rest stays readable; the grace
 * period and running backups hold deletion back; a prune racing backups never removes a
 * blob a finished snapshot needs.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.js';
import { LocalBackend } from '../../src/backends/local.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import { forget } from '../../src/ops/forget.js';
import { prune } from '../../src/ops/prune.js';
import { restore } from '../../src/ops/restore.js';
import { blobPrefix } from '../../src/repo/layout.js';
import { Lock } from '../../src/repo/locks.js';
import { readCandidates } from '../../src/repo/prune-state.js';
import { initRepository, openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { describeTree, pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { raceRounds, verifyAfterRace, writeVersion } from '../helpers/prune-race.js';
import { localRepo, TINY_CHUNKS } from '../helpers/repo.js';

async function blobKeys(backend: Backend): Promise<string[]> {
  return (await blobSizes(backend)).map(([k]) => k);
}

async function blobSizes(backend: Backend): Promise<Array<[string, number]>> {
  const sizes: Array<[string, number]> = [];
  for (const kind of ['data', 'tree'] as const) {
    for await (const info of backend.list(blobPrefix(kind))) sizes.push([info.key, info.size]);
  }
  return sizes.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

async function listed(backend: Backend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list(prefix)) keys.push(info.key);
  return keys;
}

/** A repository whose older of two versions of one file was forgotten: its chunks are garbage. */
async function withForgottenVersion() {
  const src = await tempDir();
  const { repo } = await localRepo();
  await writeFile(join(src, 'a'), pseudoRandomBytes(6000, 1));
  await backup(repo, { paths: [src], statCacheDir: false });
  await writeFile(join(src, 'a'), pseudoRandomBytes(6000, 2));
  await backup(repo, { paths: [src], statCacheDir: false });
  await forget(repo, { policy: { last: 1 } });
  return { src, repo };
}

describe('forget + prune', () => {
  it('removes exactly the blobs no remaining snapshot references', async () => {
    const src = await tempDir();
    const { repo } = await localRepo();
    for (let v = 1; v <= 3; v++) {
      await writeVersion(src, v);
      await backup(repo, { paths: [src], statCacheDir: false });
    }
    const expected = await describeTree(src);
    // The same final source backed up alone: the blobs the newest snapshot needs.
    const alone = await initRepository(new LocalBackend(await tempDir()), {
      chunker: TINY_CHUNKS,
      inlineMax: 32,
    });
    await backup(alone, { paths: [src], statCacheDir: false });
    const needed = await blobKeys(alone.backend);
    const beforeSizes = await blobSizes(repo.backend);
    const before = beforeSizes.map(([k]) => k);
    expect(before.length).toBeGreaterThan(needed.length);
    const unneededBytes = beforeSizes
      .filter(([k]) => !needed.includes(k))
      .reduce((n, [, size]) => n + size, 0);

    const dry = await forget(repo, { policy: { last: 1 }, dryRun: true });
    expect(dry.removed).toHaveLength(2);
    expect((await repo.snapshots.ids()).length).toBe(3);

    const report = await forget(repo, { policy: { last: 1 }, prune: { graceMs: 0 } });
    expect(report.removed).toHaveLength(2);
    expect(report.kept).toBe(1);
    expect(report.prune?.swept).toBe(true);
    expect(await blobKeys(repo.backend)).toEqual(needed);
    expect(report.prune!.deletedData + report.prune!.deletedTrees).toBe(
      before.length - needed.length,
    );
    expect(report.prune!.unreferencedBlobs).toBe(0);
    expect(report.prune!.deletedBytes).toBe(unneededBytes);
    expect(report.prune!.unreferencedBytes).toBe(0);
    expect(await readCandidates(repo.backend)).toBeUndefined();
    expect(await listed(repo.backend, 'prune/marks/')).toEqual([]);

    const checked = await check(repo, { readData: true });
    expect(checked.problems).toEqual([]);
    expect(checked.unreferencedBlobs).toBe(0);
    const [only] = await repo.snapshots.list();
    const target = await tempDir();
    await restore(repo, only!.id, only!.snapshot, { target });
    expect(await describeTree(target)).toEqual(expected);
    // the snapshot index was rebuilt without the forgotten snapshots
    const reopened = await openRepositoryIn(repo.backend);
    expect(await reopened.snapshots.ids()).toEqual([only!.id]);
  });

  it('deletes only after the grace period, and only blobs still unreferenced', async () => {
    const { src, repo } = await withForgottenVersion();
    const t0 = Date.now();
    const first = await prune(repo, { graceMs: 3600_000, now: () => t0 });
    expect(first.swept).toBe(false);
    expect(first.marked).toBeGreaterThan(0);
    expect(first.deletedData).toBe(0);
    const marked = (await readCandidates(repo.backend))!;
    expect(marked.count).toBe(first.marked);

    // Before the grace period ends: nothing happens, and the mark keeps its time.
    const early = await prune(repo, { graceMs: 3600_000, now: () => t0 + 1800_000 });
    expect(early.swept).toBe(false);
    expect((await readCandidates(repo.backend))!.time).toBe(marked.time);

    // Meanwhile a backup brings the old content back: those candidates are referenced again.
    await writeFile(join(src, 'a'), pseudoRandomBytes(6000, 1));
    await backup(repo, { paths: [src], statCacheDir: false });
    const late = await prune(repo, { graceMs: 3600_000, now: () => t0 + 3601_000 });
    expect(late.swept).toBe(true);
    expect(late.deletedData).toBe(0); // every candidate was revived
    expect((await check(repo, { readData: true })).problems).toEqual([]);
  });

  it('drops a damaged candidate list, marks afresh, and sweeps a grace period later', async () => {
    const { repo } = await withForgottenVersion();
    const t0 = Date.now();
    const first = await prune(repo, { graceMs: 3600_000, now: () => t0 });
    const list = (await readCandidates(repo.backend))!;
    await repo.backend.delete(`prune/marks/${list.mark}/0`);

    // Due, but its list cannot be read: nothing is deleted, the blobs are marked again.
    const dropped = await prune(repo, { graceMs: 3600_000, now: () => t0 + 3601_000 });
    expect(dropped.droppedCandidates).toMatch(/part 0 of the candidate list is missing/);
    expect(dropped.swept).toBe(false);
    expect(dropped.deletedData).toBe(0);
    expect(dropped.marked).toBe(first.marked);
    const remarked = (await readCandidates(repo.backend))!;
    expect(remarked.time).toBe(new Date(t0 + 3601_000).toISOString());
    expect(await listed(repo.backend, 'prune/marks/')).toHaveLength(1);

    const late = await prune(repo, { graceMs: 3600_000, now: () => t0 + 7202_000 });
    expect(late.droppedCandidates).toBeUndefined();
    expect(late.swept).toBe(true);
    expect(late.deletedData + late.deletedTrees).toBe(first.marked);
    expect((await check(repo, { readData: true })).problems).toEqual([]);
  });

  it('says a damaged candidate list is dropped when it finds it, before deleting anything', async () => {
    // A missing part (found by the sweep) and a malformed list (found when read).
    const damages = [
      async (repo: Repository) => {
        const list = (await readCandidates(repo.backend))!;
        await repo.backend.delete(`prune/marks/${list.mark}/0`);
      },
      (repo: Repository) => repo.backend.put('prune/candidates', Buffer.from('junk')),
    ];
    for (const damage of damages) {
      const { repo } = await withForgottenVersion();
      const first = await prune(repo, { graceMs: 3600_000 });
      expect(first.marked).toBeGreaterThan(0);
      await damage(repo);
      const log: string[] = [];
      const del = repo.backend.delete.bind(repo.backend);
      repo.backend.delete = (key, options) => {
        log.push(`delete ${key}`);
        return del(key, options);
      };
      // Grace 0: the run marks afresh and deletes, after saying so.
      const report = await prune(repo, {
        graceMs: 0,
        onEvent: (e) => log.push(`${e.type} ${e.code} ${e.path}: ${e.message}`),
      });
      expect(report.droppedCandidates).toBeDefined();
      expect(report.deletedData + report.deletedTrees).toBe(first.marked);
      const notices = log.filter((l) => l.startsWith('notice'));
      expect(notices).toHaveLength(1);
      expect(notices[0]).toContain('notice candidates-dropped prune/candidates: ');
      expect(notices[0]).toContain(report.droppedCandidates);
      const firstBlobDelete = log.findIndex((l) => /^delete (data|tree)\//.test(l));
      expect(firstBlobDelete).toBeGreaterThan(log.indexOf(notices[0]!));
    }
  });

  it('leaves alone objects under data/ that are not named as blobs', async () => {
    const src = await tempDir();
    const { repo } = await localRepo();
    await writeFile(join(src, 'a'), pseudoRandomBytes(6000, 1));
    await backup(repo, { paths: [src], statCacheDir: false });
    const stray = `data/zz/${'ab'.repeat(32)}`;
    await repo.backend.put(stray, new Uint8Array(10));
    const report = await prune(repo, { graceMs: 0 });
    expect(report.unreferencedBlobs).toBe(0);
    expect(report.deletedData).toBe(0);
    expect((await repo.backend.stat(stray)).size).toBe(10);
    // And the next run is not stuck on it.
    expect((await prune(repo, { graceMs: 0 })).droppedCandidates).toBeUndefined();
  });

  it('postpones the sweep while a backup holds a shared lock', async () => {
    const { repo } = await withForgottenVersion();
    const before = await blobKeys(repo.backend);
    const held = await Lock.acquire(repo.backend, { exclusive: false, operation: 'backup' });
    const r = await prune(repo, { graceMs: 0 });
    expect(r.swept).toBe(false);
    expect(r.postponed).toMatch(/1 backup\(s\) in progress/);
    expect(await blobKeys(repo.backend)).toEqual(before);
    // Postponed again, now with a due mark from the run before: the counts are still
    // the repository's (they read 0 when the postponed sweep was the first step).
    const due = await prune(repo, { graceMs: 0 });
    expect(due.postponed).toBeDefined();
    expect(due.snapshots).toBe(r.snapshots);
    expect(due.snapshots).toBeGreaterThan(0);
    expect(due.referencedBlobs).toBe(r.referencedBlobs);
    expect(due.unreferencedBlobs).toBe(r.unreferencedBlobs);
    expect(due.unreferencedBlobs).toBeGreaterThan(0);
    expect(due.marked).toBe(r.marked);
    await held.release();
    const again = await prune(repo, { graceMs: 0 });
    expect(again.swept).toBe(true);
    expect(again.deletedData).toBeGreaterThan(0);
    expect((await check(repo, { readData: true })).problems).toEqual([]);
  });

  it('removes temporary files that killed writers left in a local repository', async () => {
    const { repo, dir } = await localRepo();
    const { mkdir, utimes, readdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'data', 'ab'), { recursive: true });
    const old = join(dir, 'data', 'ab', '.tmp~0123456789abcdef');
    const fresh = join(dir, 'data', 'ab', '.tmp~fedcba9876543210');
    await writeFile(old, 'half a blob');
    await writeFile(fresh, 'a put in progress');
    await utimes(old, Date.now() / 1000 - 7200, Date.now() / 1000 - 7200);
    // A dry run counts what it would remove, and removes nothing.
    const dry = await prune(repo, { graceMs: 0, dryRun: true });
    expect(dry.tempFilesRemoved).toBe(1);
    expect((await readdir(join(dir, 'data', 'ab'))).sort()).toEqual([
      '.tmp~0123456789abcdef',
      '.tmp~fedcba9876543210',
    ]);
    const report = await prune(repo, { graceMs: 0 });
    expect(report.tempFilesRemoved).toBe(1);
    expect(await readdir(join(dir, 'data', 'ab'))).toEqual(['.tmp~fedcba9876543210']);
  });

  it('refuses a second prune while one holds the exclusive lock', async () => {
    const { repo } = await localRepo();
    const held = await Lock.acquire(repo.backend, { exclusive: true, operation: 'prune' });
    await expect(prune(repo, { graceMs: 0 })).rejects.toMatchObject({ code: 'locked' });
    await expect(forget(repo, { policy: { last: 1 } })).rejects.toMatchObject({
      code: 'locked',
    });
    await held.release();
    await expect(forget(repo, { policy: {} })).rejects.toMatchObject({ code: 'usage' });
  });

  it('racing backups: a finished snapshot never loses a blob (local)', async () => {
    const { dir } = await localRepo();
    const cache = await tempDir();
    const open = () => openRepositoryIn(new LocalBackend(dir));
    const result = await raceRounds(open, 6, cache);
    const repo = await open();
    try {
      const v = await verifyAfterRace(repo, result);
      expect(v.restored).toBeGreaterThan(0);
      expect(result.backups).toHaveLength(6);
      // the race was real: some prunes deleted blobs
      expect(result.prunes.some((p) => p.deletedData > 0)).toBe(true);
    } finally {
      await repo.close();
    }
  }, 60_000);
});
