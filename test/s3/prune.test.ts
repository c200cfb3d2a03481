/**
 * Prune on a real S3 server (Ceph RGW on loopback, see test/helpers/rgw.ts): forget +
 * prune racing backups into the same bucket prefix, each side with its own client and
 * blob inventory, never removes a blob a finished snapshot needs; the inventory of a
 * client is dropped when prune publishes a new epoch.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/ops/backup.js';
import { forget } from '../../src/ops/forget.js';
import { withSharedLock } from '../../src/ops/lock-guard.js';
import { prune } from '../../src/ops/prune.js';
import { readPruneEpoch } from '../../src/repo/prune-state.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';
import { tempDir } from '../helpers/fs.js';
import { raceRounds, verifyAfterRace, writeVersion } from '../helpers/prune-race.js';
import { TINY_CHUNKS } from '../helpers/repo.js';
import { rgwBucketFixture } from '../helpers/rgw-bucket.js';

const rgw = rgwBucketFixture('s3-prune');

const prefix = () => `p-${randomBytes(4).toString('hex')}`;

describe('prune on S3', () => {
  it('racing backups: a finished snapshot never loses a blob', async () => {
    const p = prefix();
    const created = await initRepository(rgw.bucket.open(p), {
      chunker: TINY_CHUNKS,
      inlineMax: 32,
    });
    await created.close();
    // every handle has its own cache dir: two machines, two inventories
    const open = async () =>
      openRepositoryIn(rgw.bucket.open(p), { inventory: 'on', cacheDir: await tempDir() });
    const result = await raceRounds(open, 4, await tempDir(), [0, 1500]);
    const repo = await open();
    try {
      const v = await verifyAfterRace(repo, result);
      expect(v.restored).toBeGreaterThan(0);
      expect(result.backups).toHaveLength(4);
      expect(result.prunes.some((r) => r.deletedData > 0)).toBe(true);
    } finally {
      await repo.close();
    }
  }, 120_000);

  it('a client whose inventory predates a prune drops it before backing up', async () => {
    const p = prefix();
    const cacheDir = await tempDir();
    const src = await tempDir();
    const repo = await initRepository(
      rgw.bucket.open(p),
      { chunker: TINY_CHUNKS, inlineMax: 32 },
      { inventory: 'on', cacheDir },
    );
    await writeVersion(src, 1);
    await backup(repo, { paths: [src], statCacheDir: false });
    await writeVersion(src, 2);
    await backup(repo, { paths: [src], statCacheDir: false });
    await repo.close();

    // The client opens (its inventory lists version 1's blobs), then another prunes them.
    const client = await openRepositoryIn(rgw.bucket.open(p), { inventory: 'on', cacheDir });
    const other = await openRepositoryIn(rgw.bucket.open(p), { inventory: 'off' });
    await forget(other, { policy: { last: 1 } });
    const r = await prune(other, { graceMs: 0 });
    expect(r.deletedData).toBeGreaterThan(0);
    expect(await readPruneEpoch(other.backend)).not.toBe(client.inventory!.epoch);
    await other.close();

    // Version 1 again: its chunks were deleted, so they must be written again.
    await writeVersion(src, 1);
    const { snapshot } = await withSharedLock(client, 'backup', () =>
      backup(client, { paths: [src], statCacheDir: false }),
    );
    expect(snapshot.summary.blobsAdded).toBeGreaterThan(0);
    const report = await verifyAfterRace(client, { prunes: [], backups: [] });
    expect(report.problems).toBe(0);
    await client.close();
  }, 120_000);
});
