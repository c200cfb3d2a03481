/**
 * Every command through the CLI on an `s3:http://127.0.0.1:PORT/BUCKET/PREFIX`
 * repository on a real Ceph RGW (one per file), with credentials from the standard
 * AWS environment variables, and `sync` between S3 and a local directory both ways.
 */

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3.js';
import { cli } from '../helpers/cli.js';
import { describeTree, tempDir } from '../helpers/fs.js';
import {
  type CliEnvironment,
  cliEnvironment,
  type RgwServer,
  rgwServer,
  stopRgw,
} from '../helpers/rgw.js';
import { changeDeepFile, writeSource } from '../helpers/sync-fixtures.js';

let server: RgwServer;
let environment: CliEnvironment | undefined;
/** Made by `cairn init` itself (it must create the bucket). */
const bucket = `cairn-cli-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  server = await rgwServer();
  environment = await cliEnvironment(server);
}, 180_000);

afterAll(async () => {
  const admin = S3Backend.fromUrl(`s3:${server.endpoint}/${bucket}`, {
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
  });
  try {
    const keys: string[] = [];
    for await (const info of admin.list('')) keys.push(info.key);
    await admin.deleteMany(keys);
  } catch {
    // the bucket may not exist if init failed
  } finally {
    await admin.close();
  }
  if (server.stateDir) {
    await promisify(execFile)('radosgw-admin', [
      '-c',
      join(server.stateDir, 'ceph.conf'),
      'bucket',
      'rm',
      `--bucket=${bucket}`,
      '--purge-objects',
    ]).catch(() => undefined);
  }
  await environment?.restore();
  await stopRgw();
}, 60_000);

const url = (prefix: string) => `s3:${server.endpoint}/${bucket}/${prefix}`;

describe('cairn CLI on S3', () => {
  it('init (creating the bucket), backup, snapshots, ls, diff, restore, cat, check, stats', async () => {
    const repo = url('main/repo');
    const data = await tempDir();
    await writeSource(data);

    const init = await cli(
      '--repo',
      repo,
      '--json',
      'init',
      '--no-encryption',
      '--inline-max',
      '64',
      '--min',
      '256',
      '--avg',
      '1K',
      '--max',
      '4K',
    );
    expect(init.code).toBe(0);
    expect(init.json[0]).toMatchObject({
      operation: 'init',
      repository: repo,
      bucketCreated: true,
    });
    const again = await cli('--repo', repo, 'init', '--no-encryption');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);

    const b1 = await cli('--repo', repo, '--json', '--transfers', '4', 'backup', data, '-t', 'v1');
    expect(b1.code).toBe(0);
    const s1 = b1.json.find((e) => e.type === 'summary')!;
    expect(s1.blobsAdded as number).toBeGreaterThan(10);
    await changeDeepFile(data);
    const b2 = await cli(
      '--repo',
      repo,
      '--json',
      '--tps-limit',
      '1000',
      'backup',
      data,
      '-t',
      'v2',
    );
    expect(b2.code).toBe(0);

    const snaps = await cli('--repo', repo, '--json', 'snapshots');
    expect(snaps.code).toBe(0);
    expect(snaps.json.filter((s) => s.type === 'snapshot').map((s) => s.tags)).toEqual([
      ['v1'],
      ['v2'],
    ]);
    const ls = await cli('--repo', repo, 'ls', 'tag:v1', 'a/b');
    expect(ls.stdout.split('\n').filter(Boolean)).toEqual([
      'a/b/',
      'a/b/c/',
      'a/b/c/deep.bin',
      'a/b/other.bin',
    ]);
    const diff = await cli('--repo', repo, 'diff', 'tag:v1', 'tag:v2');
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain('M a/b/c/deep.bin');

    const target = await tempDir();
    const r = await cli('--repo', repo, 'restore', 'latest', '--target', target);
    expect(r.code).toBe(0);
    expect(await describeTree(target)).toEqual(await describeTree(data));

    const cat = await cli('--repo', repo, 'cat', 'config');
    expect(JSON.parse(cat.stdout)).toMatchObject({ cairn: 'repository', inlineMax: 64 });
    const check = await cli('--repo', repo, 'check', '--read-data');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('no problems found');
    const stats = await cli('--repo', repo, '--json', 'stats');
    expect(stats.code).toBe(0);
    expect(stats.json[0]).toMatchObject({ snapshots: 2 });

    // A wrong bucket is not mistaken for an empty repository.
    const wrong = await cli('--repo', `s3:${server.endpoint}/no-such-bucket-x/r`, 'snapshots');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/no-such-bucket-x/);
  });

  it('syncs S3 -> local and local -> S3, sending nothing the second time', async () => {
    const data = await tempDir();
    await writeSource(data);
    const s3 = url('sync/a');
    expect(
      (
        await cli(
          '--repo',
          s3,
          'init',
          '--no-encryption',
          '--inline-max',
          '64',
          '--min',
          '256',
          '--avg',
          '1K',
          '--max',
          '4K',
        )
      ).code,
    ).toBe(0);
    expect((await cli('--repo', s3, 'backup', data)).code).toBe(0);

    const local = join(await tempDir(), 'local');
    expect(
      (await cli('--repo', local, 'init', '--no-encryption', '--copy-params-from', s3)).code,
    ).toBe(0);
    const down = await cli('--json', 'sync', s3, local);
    expect(down.code).toBe(0);
    const downSummary = down.json.at(-1)!;
    expect((downSummary.copied as string[]).length).toBe(1);
    expect(downSummary.blobsSent as number).toBeGreaterThan(10);

    const s3b = url('sync/b');
    expect(
      (await cli('--repo', s3b, 'init', '--no-encryption', '--copy-params-from', local)).code,
    ).toBe(0);
    const up = await cli('--json', '--checkers', '4', 'sync', local, s3b);
    expect(up.code).toBe(0);
    const upSummary = up.json.at(-1)!;
    expect(upSummary.blobsSent).toBe(downSummary.blobsSent);
    const upAgain = await cli('--json', 'sync', local, s3b);
    expect(upAgain.json.at(-1)).toMatchObject({ blobsSent: 0, copied: [] });
    const check = await cli('--repo', s3b, 'check', '--read-data');
    expect(check.code).toBe(0);
    const target = await tempDir();
    expect((await cli('--repo', s3b, 'restore', 'latest', '--target', target)).code).toBe(0);
    expect(await describeTree(target)).toEqual(await describeTree(data));
  });
});
