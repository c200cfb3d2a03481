/**
 * A writer whose shared lock is removed while it runs (`unlock --remove-all` from another
 * machine) no longer holds off a prune's sweep, which may delete what it stored or
 * reuses: it commits nothing, backup and sync alike.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { backup } from '../../src/ops/backup.js';
import { sync } from '../../src/ops/sync.js';
import { LOCKS_PREFIX } from '../../src/repo/layout.js';
import { initRepository } from '../../src/repo/repository.js';
import { tempDir } from '../helpers/fs.js';
import { localRepo, TINY_CHUNKS } from '../helpers/repo.js';

/** Deletes every lock of `backend`, as `unlock --remove-all` elsewhere would. */
async function removeAllLocks(backend: Backend): Promise<number> {
  const keys: string[] = [];
  for await (const info of backend.list(LOCKS_PREFIX)) keys.push(info.key);
  for (const key of keys) await backend.delete(key);
  return keys.length;
}

describe('a writer whose lock was removed while it ran', () => {
  it('backup saves no snapshot and says why', async () => {
    const src = await tempDir();
    for (let i = 0; i < 20; i++) await writeFile(join(src, `f${i}`), `file ${i} `.repeat(200));
    const { repo } = await localRepo();
    let removed: Promise<number> | undefined;
    const err = await backup(repo, {
      paths: [src],
      statCacheDir: false,
      onEvent: () => {
        removed ??= removeAllLocks(repo.backend);
      },
    }).catch((e) => e);
    expect(await removed).toBe(1);
    expect(err).toMatchObject({ code: 'locked' });
    expect(err.message).toMatch(/the backup's lock \w{8} on .* was removed while it ran/);
    expect(await repo.snapshots.list()).toEqual([]);
    // With its lock in place, the same backup commits.
    const ok = await backup(repo, { paths: [src], statCacheDir: false });
    expect(ok.snapshotId).toBeDefined();
  });

  it('sync copies no snapshot record', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'f'), 'content '.repeat(500));
    const { repo: from } = await localRepo();
    await backup(from, { paths: [src], statCacheDir: false });
    const to = await initRepository(new MemoryBackend(), { chunker: TINY_CHUNKS, inlineMax: 32 });
    let removed: Promise<number> | undefined;
    const err = await sync(from, to, {
      onEvent: () => {
        removed ??= removeAllLocks(to.backend);
      },
    }).catch((e) => e);
    expect(await removed).toBe(1);
    expect(err).toMatchObject({ code: 'locked' });
    expect(await to.snapshots.list()).toEqual([]);
  });
});
