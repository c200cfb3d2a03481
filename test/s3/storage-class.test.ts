/**
 * `-o s3.storage-class=CLASS` against a real Ceph RGW of its own whose default placement
 * offers STANDARD_IA (scripts/rgw-up.sh with RGW_STORAGE_CLASS): blobs (`data/`,
 * `tree/`) go to the class, every other object stays in the default, whether a backup or
 * a sync writes them; the repository then restores and checks as any other; and a class
 * the server does not offer stops the backup with an error that names it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { describeTree, tempDir } from '../helpers/fs.js';
import {
  type CliEnvironment,
  cliEnvironment,
  createTestBucket,
  type RgwServer,
  startRgw,
  stopRgwSync,
  type TestBucket,
} from '../helpers/rgw.js';
import { writeSource } from '../helpers/sync-fixtures.js';

let server: RgwServer;
let bucket: TestBucket;
let environment: CliEnvironment | undefined;
let stateDir: string | undefined;

beforeAll(async () => {
  // A server of its own, whatever the environment names: only this one offers the class.
  const dir = mkdtempSync(join(tmpdir(), 'cairn-rgw-'));
  stateDir = dir;
  process.on('exit', () => stopRgwSync(dir)); // also if the run dies before afterAll
  server = await startRgw(dir, { storageClass: 'STANDARD_IA' });
  bucket = await createTestBucket(server, 'storage-class');
  environment = await cliEnvironment(server);
}, 180_000);

afterAll(async () => {
  await bucket?.remove();
  await environment?.restore();
  if (stateDir) stopRgwSync(stateDir);
  stateDir = undefined;
}, 60_000);

/** The storage class of every object under `prefix`, as the server lists it. */
async function classes(prefix: string): Promise<Map<string, string>> {
  const client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
  });
  const out = new Map<string, string>();
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket.bucket,
          Prefix: `${prefix}/`,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) {
        out.set(o.Key!.slice(prefix.length + 1), o.StorageClass ?? 'STANDARD');
      }
      token = page.NextContinuationToken;
    } while (token);
  } finally {
    client.destroy();
  }
  return out;
}

/** Keys of `all` by class, blobs apart from the rest. */
function byKind(all: Map<string, string>): { blobs: Set<string>; others: Set<string> } {
  const blobs = new Set<string>();
  const others = new Set<string>();
  for (const [key, cls] of all) {
    (key.startsWith('data/') || key.startsWith('tree/') ? blobs : others).add(cls);
  }
  return { blobs, others };
}

const IA = ['-o', 's3.storage-class=STANDARD_IA'];

describe('-o s3.storage-class', () => {
  it('puts blobs in the class and the rest in the default; the repository restores and checks', async () => {
    const repo = bucket.url('backup');
    const data = await tempDir();
    await writeSource(data);
    expect(
      (await cli(...IA, '--repo', repo, 'init', '--no-encryption', '--inline-max', '64')).code,
    ).toBe(0);
    const b = await cli(...IA, '--repo', repo, '--json', 'backup', data);
    expect(b.code).toBe(0);

    const stored = await classes('backup');
    expect([...stored.keys()].filter((k) => k.startsWith('data/')).length).toBeGreaterThan(3);
    expect([...stored.keys()].some((k) => k.startsWith('tree/'))).toBe(true);
    expect([...stored.keys()].some((k) => k.startsWith('snapshots/'))).toBe(true);
    expect(stored.get('config')).toBe('STANDARD');
    expect(byKind(stored)).toEqual({
      blobs: new Set(['STANDARD_IA']),
      others: new Set(['STANDARD']),
    });

    // Read back without the option: the class changes nothing for readers.
    const target = await tempDir();
    expect((await cli('--repo', repo, 'restore', 'latest', '--target', target)).code).toBe(0);
    expect(await describeTree(target)).toEqual(await describeTree(data));
    expect((await cli('--repo', repo, 'check', '--read-data')).code).toBe(0);

    // A sync into another S3 repository writes its blobs in the class too.
    const copy = bucket.url('copy');
    expect(
      (await cli('--repo', copy, 'init', '--no-encryption', '--copy-params-from', repo)).code,
    ).toBe(0);
    expect((await cli(...IA, 'sync', repo, copy)).code).toBe(0);
    expect(byKind(await classes('copy'))).toEqual({
      blobs: new Set(['STANDARD_IA']),
      others: new Set(['STANDARD']),
    });
    // Without the option, blobs go to the default class.
    const plain = bucket.url('plain');
    expect((await cli('--repo', plain, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', plain, 'backup', data)).code).toBe(0);
    expect(byKind(await classes('plain'))).toEqual({
      blobs: new Set(['STANDARD']),
      others: new Set(['STANDARD']),
    });
  }, 120_000);

  it('names the class when the server does not offer it', async () => {
    const repo = bucket.url('refused');
    const data = await tempDir();
    await writeSource(data);
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    const b = await cli(
      '-o',
      's3.storage-class=REDUCED_REDUNDANCY',
      '--repo',
      repo,
      'backup',
      data,
    );
    // RGW answers a bare InvalidArgument, which other causes give too: the class is named
    // as the likely one, with the server's answer (AWS's InvalidStorageClass is certain).
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(
      /InvalidArgument \(HTTP 400\) \(perhaps storage class REDUCED_REDUNDANCY, -o s3.storage-class, which the server may not offer\)/,
    );
    expect(
      (await cli('--repo', repo, '--json', 'snapshots')).json.filter((e) => e.type === 'snapshot'),
    ).toEqual([]);
  }, 60_000);
});
