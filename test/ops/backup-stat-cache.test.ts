/**
 * The stat cache around the edges: a dry run reads it (so it tells new, changed and
 * unchanged files apart as the real backup will) but never writes it (it stored nothing
 * the cache could vouch for), and a cache that cannot be opened only costs reading
 * every file, with a notice, not the backup.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/ops/backup.js';
import type { BackupEvent } from '../../src/ops/events.js';
import { tempDir } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

/** Files changed in the last 100 ms are never trusted to the cache (source-stat.ts). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 250));

/** Writes `path` with a modification time long past. */
function writeOld(path: string, text: string, secondsAgo = 3600): void {
  writeFileSync(path, text);
  const t = Date.now() / 1000 - secondsAgo;
  utimesSync(path, t, t);
}

async function source() {
  const src = await tempDir();
  for (let i = 0; i < 5; i++) writeOld(join(src, `f${i}`), `content ${i} `.repeat(100));
  return src;
}

describe('backup and the stat cache', () => {
  it('a dry run counts changes as the backup will, and writes no cache record', async () => {
    const { repo } = await localRepo();
    const src = await source();
    const statCacheDir = await tempDir();
    await settle();
    await backup(repo, { paths: [src], statCacheDir });
    writeOld(join(src, 'f0'), 'changed '.repeat(100), 1800);
    writeOld(join(src, 'new'), 'new '.repeat(100), 1800);
    await settle();
    const dry = await backup(repo, { paths: [src], statCacheDir, dryRun: true });
    expect(dry.snapshot.summary).toMatchObject({ filesNew: 1, filesChanged: 1, filesUnchanged: 4 });
    // Had the dry run recorded what it saw, this backup would take f0 and new as unchanged.
    const real = await backup(repo, { paths: [src], statCacheDir });
    expect(real.snapshot.summary).toMatchObject({
      filesNew: 1,
      filesChanged: 1,
      filesUnchanged: 4,
    });
  });

  it('goes on without a cache that cannot be opened, with a notice', async () => {
    const { repo } = await localRepo();
    const src = await source();
    const blocker = join(await tempDir(), 'a-file');
    writeFileSync(blocker, 'x');
    const events: BackupEvent[] = [];
    const r = await backup(repo, {
      paths: [src],
      statCacheDir: join(blocker, 'cache'),
      onEvent: (e) => events.push(e),
    });
    expect(r.snapshotId).toBeDefined();
    expect(r.snapshot.summary.filesNew).toBe(5);
    const notice = events.find((e) => e.type === 'notice');
    expect(notice).toMatchObject({ type: 'notice', code: 'stat-cache' });
    expect(events.some((e) => e.type === 'warning')).toBe(false);
  });
});
