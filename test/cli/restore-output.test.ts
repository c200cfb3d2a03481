/**
 * What `cairn restore` tells: files kept by `--overwrite never` are said to be kept, and
 * a socket recorded in the snapshot is passed over quietly (it means nothing without the
 * process that made it) instead of a warning and exit 3 on every restore.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

async function setup() {
  process.env.CAIRN_CACHE_DIR = await tempDir();
  const repo = join(await tempDir(), 'repo');
  expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
  return repo;
}

describe('cairn restore output', () => {
  it('says how many existing files --overwrite never left as they were', async () => {
    const repo = await setup();
    const src = await tempDir();
    for (const n of ['a', 'b', 'c']) writeFileSync(join(src, n), `new ${n}\n`);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    const target = await tempDir();
    writeFileSync(join(target, 'a'), 'old a\n');
    writeFileSync(join(target, 'b'), 'old b\n');
    const r = await cli(
      '--repo',
      repo,
      'restore',
      'latest',
      '--target',
      target,
      '--overwrite',
      'never',
    );
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain('2 existing files were left as they were (--overwrite never)');
  });

  it.runIf(process.platform !== 'win32')('passes over a socket without a warning', async () => {
    const repo = await setup();
    const src = await tempDir();
    writeFileSync(join(src, 'file'), 'x');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(src, 'sock'), resolve));
    try {
      expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const ls = await cli('--repo', repo, '--json', 'ls', 'latest');
    expect(ls.json.find((e) => e.path === 'sock')).toMatchObject({ kind: 'socket' });
    const r = await cli('--repo', repo, 'restore', 'latest', '--target', await tempDir());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.ok);
  });
});
