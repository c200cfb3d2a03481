/**
 * `backup({ time })` records the time given (and the history orders by it);
 * `skipIfUnchanged` writes no record when the tree and tags equal the parent's, and
 * one as soon as either differs; a time a record cannot hold is refused.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { memoryRepo } from '../helpers/repo.js';

describe('backup time and skipIfUnchanged', () => {
  it('records the time given; the history is ordered by it', async () => {
    const src = await tempDir();
    await writeTree(src, { 'a.txt': 'a' });
    const repo = await memoryRepo();
    const now = await backup(repo, { paths: [src], statCacheDir: false });
    const time = new Date('2019-05-01T12:00:00.000Z');
    const old = await backup(repo, { paths: [src], statCacheDir: false, time });
    expect(old.snapshot.time).toBe('2019-05-01T12:00:00.000Z');
    expect((await repo.snapshots.list()).map((r) => r.id)).toEqual([
      old.snapshotId,
      now.snapshotId,
    ]);
    for (const bad of [new Date(Number.NaN), new Date('+010000-01-01T00:00:00Z')]) {
      await expect(backup(repo, { paths: [src], statCacheDir: false, time: bad })).rejects.toThrow(
        UsageError,
      );
    }
  });

  it('writes no record when nothing changed, and one when the tree or tags did', async () => {
    const src = await tempDir();
    await writeTree(src, { 'a.txt': 'a' });
    const repo = await memoryRepo();
    const options = { paths: [src], statCacheDir: false as const, skipIfUnchanged: true };
    const first = await backup(repo, options);
    expect(first.snapshotId).toBeDefined();
    const same = await backup(repo, options);
    expect(same).toMatchObject({ snapshotId: undefined, unchangedSince: first.snapshotId });
    expect(await repo.snapshots.ids()).toEqual([first.snapshotId]);
    // Other tags are something to record.
    const tagged = await backup(repo, { ...options, tags: ['release'] });
    expect(tagged.snapshotId).toBeDefined();
    await writeFile(join(src, 'a.txt'), 'changed');
    const changed = await backup(repo, { ...options, tags: ['release'] });
    expect(changed.snapshotId).toBeDefined();
    expect(changed.unchangedSince).toBeUndefined();
    // Against a parent named explicitly as well.
    const named = await backup(repo, {
      ...options,
      tags: ['release'],
      parent: changed.snapshotId!,
    });
    expect(named.unchangedSince).toBe(changed.snapshotId);
    // Without the option, a record each time.
    const again = await backup(repo, { paths: [src], statCacheDir: false, tags: ['release'] });
    expect(again.snapshotId).toBeDefined();
    expect(await repo.snapshots.ids()).toHaveLength(4);
  });

  it('skips only against a parent of the same host and paths', async () => {
    const src = await tempDir();
    await writeTree(src, { 'a.txt': 'a', 'b.txt': 'b' });
    const repo = await memoryRepo();
    const options = { paths: [src], statCacheDir: false as const, skipIfUnchanged: true };
    const other = await backup(repo, { ...options, hostname: 'elsewhere' });
    const here = await backup(repo, { ...options, hostname: 'here', parent: other.snapshotId! });
    expect(here.snapshotId).toBeDefined();
    expect(here.unchangedSince).toBeUndefined();
    const again = await backup(repo, { ...options, hostname: 'here' });
    expect(again.unchangedSince).toBe(here.snapshotId);
  });

  it('with a time, takes as parent the newest backup at or before it', async () => {
    const src = await tempDir();
    await writeTree(src, { 'a.txt': 'a' });
    const repo = await memoryRepo();
    const options = { paths: [src], statCacheDir: false as const };
    const at = (iso: string) => ({ ...options, time: new Date(iso) });
    const early = await backup(repo, at('2020-01-01T00:00:00Z'));
    const late = await backup(repo, at('2022-01-01T00:00:00Z'));
    const between = await backup(repo, at('2021-01-01T00:00:00Z'));
    expect(between.snapshot.parent).toBe(early.snapshotId);
    const after = await backup(repo, at('2023-01-01T00:00:00Z'));
    expect(after.snapshot.parent).toBe(late.snapshotId);
    const first = await backup(repo, at('2010-01-01T00:00:00Z'));
    expect(first.snapshot.parent).toBeUndefined();
  });
});
