/**
 * Side-by-side build versions over plain HTTP (issue 4's acceptance test): two versions
 * of a generated build tree are backed up into one repository, the repository directory
 * is served by a real nginx, and a client restores v1 from its URL, then v2 over it.
 * Bytes are counted at the server, from nginx's access log.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { backup } from '../../src/ops/backup.js';
import { diffTrees } from '../../src/ops/diff.js';
import { restore } from '../../src/ops/restore.js';
import { initRepository, openRepository } from '../../src/repo/repository.js';
import { mutateToV2, writeBuildV1 } from '../helpers/build-tree.js';
import { cli } from '../helpers/cli.js';
import { describeTree, tempDir } from '../helpers/fs.js';
import { type NginxServer, startNginx } from '../helpers/nginx.js';

let server: NginxServer | undefined;
afterAll(async () => {
  await server?.stop();
});

describe('build versions served over HTTP', () => {
  it('restoring v2 over v1 fetches at most 1.1x the new chunks, and equals a clean v2', async () => {
    const root = await tempDir();
    const repoDir = join(root, 'repo');
    const repo = await initRepository(new LocalBackend(repoDir), {
      chunker: { min: 4096, avg: 16384, max: 65536 },
    });
    const src = await tempDir();
    await writeBuildV1(src, 4);
    const v1 = await backup(repo, { paths: [src], tags: ['v1.0.0'], statCacheDir: false });
    await mutateToV2(src, 4);
    const v2 = await backup(repo, { paths: [src], tags: ['v2.0.0'], statCacheDir: false });
    let newBytes = 0;
    for await (const d of diffTrees(repo, v1.snapshot.tree, v2.snapshot.tree)) {
      if (d.kind === 'file' && d.change === 'modified') newBytes += d.changedBytes ?? 0;
      if (d.kind === 'file' && d.change === 'added') newBytes += d.sizeAfter ?? 0;
    }
    expect(newBytes).toBeGreaterThan(300_000);

    server = await startNginx({ root });
    const url = `${server.url}/repo/`;
    const remote = await openRepository(url);
    // tags resolve with plain GETs, through the snapshot index
    const tag1 = await remote.snapshots.resolve('tag:v1.0.0');
    expect(tag1.id).toBe(v1.snapshotId);

    const target = await tempDir();
    await restore(remote, tag1.id, tag1.snapshot, { target });
    await new Promise((r) => setTimeout(r, 300));
    const before = await server.bytesServed('/repo/data/');
    const tag2 = await remote.snapshots.resolve('tag:v2.0.0');
    const s = await restore(remote, tag2.id, tag2.snapshot, { target, delete: true });
    // nginx writes a log line just after the last byte: let it settle before counting
    await new Promise((r) => setTimeout(r, 300));
    const servedForV2 = (await server.bytesServed('/repo/data/')) - before;
    expect(s.errors).toBe(0);
    expect(servedForV2).toBeLessThanOrEqual(newBytes * 1.1);
    // the edited bundle (2.4 MB) is rebuilt mostly from its old local copy
    expect(s.bytesReused).toBeGreaterThan(2_000_000);
    expect(s.filesUnchanged).toBeGreaterThan(15);

    const clean = await tempDir();
    await restore(remote, tag2.id, tag2.snapshot, { target: clean });
    expect(await describeTree(target)).toEqual(await describeTree(clean));
    expect(await describeTree(target)).toEqual(await describeTree(src));
    await remote.close();

    // the same through the CLI: snapshots by tag, diff with changed bytes, a dry run
    const list = await cli('--repo', url, '--json', 'snapshots', '--tag', 'v2.0.0');
    expect(list.code).toBe(0);
    expect(list.json.filter((x) => x.type === 'snapshot').map((x) => x.id)).toEqual([
      v2.snapshotId,
    ]);
    const diff = await cli('--repo', url, 'diff', 'tag:v1.0.0', 'tag:v2.0.0');
    expect(diff.stdout).toMatch(/M app\.bundle\.js .* changed\)/);
    const dry = await cli(
      '--repo',
      url,
      '--json',
      'restore',
      'tag:v1.0.0',
      '--target',
      target,
      '--delete',
      '--dry-run',
    );
    expect(dry.code).toBe(0);
    const summary = dry.json.find((x) => x.type === 'summary')!;
    expect(summary.dryRun).toBe(true);
    expect(summary.deleted).toBeGreaterThan(0);
  });
});
