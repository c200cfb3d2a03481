/**
 * `cairn init`: --avg alone derives min and max (avg/4, avg*4) as `cairn chunk` does; an
 * encrypted init that fails at its key slot leaves no repository behind, so running it
 * again works.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

const saved = { ...process.env };
afterEach(() => {
  for (const k of ['CAIRN_PASSWORD', 'CAIRN_CACHE_DIR']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

const K = 1024;

async function initChunker(...args: string[]) {
  const repo = join(await tempDir(), 'repo');
  const r = await cli('--repo', repo, '--json', 'init', '--no-encryption', ...args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.json[0]!.chunker as Record<string, unknown>;
}

describe('cairn init', () => {
  it('--avg alone sets min = avg/4 and max = avg*4; with --min or --max, the preset fills in', async () => {
    expect(await initChunker('--avg', '1M')).toMatchObject({
      min: 256 * K,
      avg: K * K,
      max: 4 * K * K,
    });
    expect(await initChunker('--avg', '8K')).toMatchObject({ min: 2 * K, avg: 8 * K, max: 32 * K });
    expect(await initChunker('--preset', 'builds', '--avg', '1M')).toMatchObject({
      min: 256 * K,
      avg: K * K,
      max: 4 * K * K,
    });
    // With --min or --max given, the other bound is the preset's.
    expect(await initChunker('--avg', '1M', '--max', '2M')).toMatchObject({
      min: 16 * K,
      avg: K * K,
      max: 2 * K * K,
    });
    expect(await initChunker('--avg', '8K', '--min', '1K')).toMatchObject({
      min: K,
      avg: 8 * K,
      max: 256 * K,
    });
    // Without --avg the preset's sizes stay.
    expect(await initChunker('--preset', 'builds')).toMatchObject({
      min: 4 * K,
      avg: 16 * K,
      max: 64 * K,
    });
  });

  it('an encrypted init failing at its key slot can be run again', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    process.env.CAIRN_PASSWORD = 'pw';
    const repo = join(await tempDir(), 'rk');
    await mkdir(repo);
    await writeFile(join(repo, 'keys'), ''); // a file where the key slot folder goes
    const failed = await cli('--repo', repo, 'init');
    expect(failed.code).toBe(1);
    expect(await readdir(repo)).toEqual(['keys']); // no config: no repository
    const open = await cli('--repo', repo, 'snapshots');
    expect(open.stderr).toContain('no cairn repository');

    await rm(join(repo, 'keys'));
    const again = await cli('--repo', repo, 'init');
    expect(again.code, again.stderr).toBe(0);
    const snapshots = await cli('--repo', repo, 'snapshots');
    expect(snapshots.code, snapshots.stderr).toBe(0);
    const keys = await cli('--repo', repo, '--json', 'key', 'list');
    expect(keys.json.filter((e) => e.type === 'key')).toHaveLength(1);
  });
});
