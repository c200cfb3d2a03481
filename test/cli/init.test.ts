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

  it('chunker errors name the option as typed and say what is allowed', async () => {
    const cases: Array<[string[], string]> = [
      // Before, --avg alone was reported as its derived min (avg/4) or max (avg*4).
      [['--avg', '100'], '--avg 100: the average chunk size must be from 256 B to 4 MiB'],
      [['--avg', '5M'], '--avg 5M: the average chunk size must be from 256 B to 4 MiB'],
      [['--avg', '0'], '--avg 0: the average chunk size must be from 256 B to 4 MiB'],
      [['--min', '10'], '--min 10: the smallest chunk size must be from 64 B to 1 MiB'],
      [['--max', '100M'], '--max 100M: the largest chunk size must be from 1 KiB to 16 MiB'],
      // A size the user did not give is named as the preset's.
      [
        ['--min', '128K'],
        '--min 128K: must be smaller than the average chunk size, 64 KiB (the default; set it with --avg)',
      ],
      [
        ['--max', '32K'],
        '--max 32K: must not be smaller than the average chunk size, 64 KiB (the default; set it with --avg)',
      ],
      [
        ['--avg', '1M', '--min', '16K'],
        '--avg 1M: must not be larger than the largest chunk size, 256 KiB (the default; set it with --max)',
      ],
      [
        ['--avg', '8K', '--max', '1M'],
        '--avg 8K: must be larger than the smallest chunk size, 16 KiB (the default; set it with --min)',
      ],
      [
        ['--preset', 'builds', '--max', '8K'],
        "--max 8K: must not be smaller than the average chunk size, 16 KiB (the builds preset's; set it with --avg)",
      ],
      [['--min', '64K', '--avg', '64K'], '--min 64K: must be smaller than --avg 64K'],
      [['--avg', '64K', '--max', '32K'], '--avg 64K: must not be larger than --max 32K'],
      [['--level', '7'], '--level 7: the normalization level must be 0, 1, 2 or 3'],
      [['--level', 'x'], '--level x: the normalization level must be 0, 1, 2 or 3'],
      [['--level', '-1'], '--level -1: the normalization level must be 0, 1, 2 or 3'],
      [
        ['--seed', ' 5'],
        '--seed  5: the gear seed must be a whole number from 0 to 2^64-1 (decimal, or hex with 0x)',
      ],
      [
        ['--seed', 'abc'],
        '--seed abc: the gear seed must be a whole number from 0 to 2^64-1 (decimal, or hex with 0x)',
      ],
      [
        ['--seed', '18446744073709551616'],
        '--seed 18446744073709551616: the gear seed must be a whole number from 0 to 2^64-1',
      ],
      [['--avg', ''], '--avg: "" is not a size'],
      [['--inline-max', '1M'], '--inline-max 1M: must be at most 64 KiB'],
    ];
    const dir = await tempDir();
    for (const [args, message] of cases) {
      const repo = join(dir, 'repo');
      const r = await cli('--repo', repo, 'init', '--no-encryption', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(`cairn: ${message}`);
      await expect(readdir(repo)).rejects.toThrow(); // nothing created
    }
    // The limits themselves are accepted.
    expect(await initChunker('--avg', '256')).toMatchObject({ min: 64, avg: 256, max: 1024 });
    expect(await initChunker('--min', '1M', '--avg', '4M', '--max', '16M')).toMatchObject({
      min: K * K,
      max: 16 * K * K,
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
