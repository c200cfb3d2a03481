/**
 * `-o, --option KEY=VALUE` (src/cli/backend-options.ts): what each setting becomes, and
 * the refusals, by name; and that the settings reach an S3 backend the CLI opens. The
 * storage class against a real server: test/s3/storage-class.test.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backends/open.js';
import { S3Backend } from '../../src/backends/s3.js';
import { checkStorageClass } from '../../src/backends/s3-storage-class.js';
import { parseBackendOptions } from '../../src/cli/backend-options.js';
import { UsageError } from '../../src/core/errors.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

describe('parseBackendOptions', () => {
  it('reads each S3 setting, a later value winning', () => {
    expect(parseBackendOptions([])).toEqual({});
    expect(
      parseBackendOptions([
        's3.storage-class=STANDARD',
        's3.atomic-create=false',
        's3.path-style=true',
        's3.region=eu-west-3',
        's3.connections=8',
        's3.storage-class=STANDARD_IA',
      ]),
    ).toEqual({
      s3: {
        storageClass: 'STANDARD_IA',
        atomicCreate: false,
        forcePathStyle: true,
        region: 'eu-west-3',
        maxSockets: 8,
      },
    });
    // The value is everything after the first '=' (here not a region name).
    expect(() => parseBackendOptions(['s3.region=eu=west'])).toThrow(/not a region name/);
  });

  it.each([
    ['s3.nope=1', /unknown option "s3.nope"; known: s3.storage-class, s3.atomic-create/],
    ['storage-class=X', /unknown option "storage-class"/],
    ['s3.constructor=1', /unknown option "s3.constructor"/],
    ['s3.storage-class', /-o s3.storage-class: expected s3.storage-class=VALUE/],
    ['s3.storage-class=', /expected s3.storage-class=VALUE/],
    ['s3.atomic-create=no', /-o s3.atomic-create: expected true or false, not "no"/],
    ['s3.connections=0', /-o s3.connections: expected a whole number from 1 to 1024/],
    ['s3.connections=2000', /from 1 to 1024/],
    ['s3.connections=1.5', /from 1 to 1024/],
    ['s3.region=Eu West', /-o s3.region: not a region name/],
  ])('refuses %s', (raw, message) => {
    expect(() => parseBackendOptions([raw])).toThrow(UsageError);
    expect(() => parseBackendOptions([raw])).toThrow(message);
  });
});

describe('storage classes', () => {
  it('takes the names of S3 and of S3-compatible services', () => {
    for (const name of ['STANDARD_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'COLD', 'tier-2.a']) {
      expect(checkStorageClass(name)).toBe(name);
    }
  });

  it('refuses archive classes, whose objects cannot be read back, and malformed names', () => {
    for (const name of ['GLACIER', 'DEEP_ARCHIVE', 'glacier']) {
      expect(() => checkStorageClass(name)).toThrow(/cannot be read without a restore request/);
    }
    for (const name of ['', 'A B', '-X', 'x'.repeat(65), 'a/b']) {
      expect(() => checkStorageClass(name)).toThrow(/invalid S3 storage class/);
    }
  });

  it('is checked when an S3 backend opens, before any request', async () => {
    await expect(
      openBackend('s3:http://127.0.0.1:9/bucket', { s3: { storageClass: 'DEEP_ARCHIVE' } }),
    ).rejects.toThrow(/DEEP_ARCHIVE cannot be used/);
  });
});

describe('the settings reach the backend', () => {
  it('opens S3 with them, and other kinds without', async () => {
    const s3 = await openBackend('s3:http://127.0.0.1:9/bucket/p', {
      s3: { atomicCreate: false, storageClass: 'STANDARD_IA' },
    });
    try {
      expect(s3).toBeInstanceOf(S3Backend);
      expect(s3.capabilities.atomicCreate).toBe(false);
    } finally {
      await s3.close?.();
    }
    const plain = await openBackend('s3:http://127.0.0.1:9/bucket/p');
    try {
      expect(plain.capabilities.atomicCreate).toBe(true);
    } finally {
      await plain.close?.();
    }
    const local = await openBackend(await tempDir(), { s3: { storageClass: 'STANDARD_IA' } });
    expect(local.capabilities.atomicCreate).toBe(true);
  });

  it('refuses a bad -o with exit 2 naming it, before opening anything', async () => {
    const repo = await tempDir();
    const run = await cli('--repo', repo, '-o', 's3.atomic-create=yes', 'init', '--no-encryption');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/-o s3.atomic-create: expected true or false, not "yes"/);
    expect(existsSync(join(repo, 'config'))).toBe(false);
    const again = await cli('--repo', repo, '--option', 's3.wrong=1', 'snapshots');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/unknown option "s3.wrong"/);
  });

  it('is checked for every command, before it runs', async () => {
    const repo = await tempDir();
    for (const args of [['version'], ['--repo', repo, 'snapshots'], ['completion', 'bash']]) {
      const run = await cli('-o', 's3.storage-class=GLACIER', ...args);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/GLACIER cannot be used/);
      expect(run.stdout).toBe('');
    }
    // before a password is asked for
    const init = await cli('--repo', repo, '-o', 's3.storage-class=bad name', 'init');
    expect(init.code).toBe(2);
    expect(init.stderr).toMatch(/invalid S3 storage class "bad name"/);
  });

  it('applies to S3 repositories only: a local one ignores it', async () => {
    const repo = await tempDir();
    expect(
      (await cli('--repo', repo, '-o', 's3.storage-class=STANDARD_IA', 'init', '--no-encryption'))
        .code,
    ).toBe(0);
    expect(
      (await cli('--repo', repo, '-o', 's3.storage-class=STANDARD_IA', 'snapshots')).code,
    ).toBe(0);
  });
});
