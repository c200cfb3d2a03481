/**
 * `cairn chunk FILE --repo R` cuts with R's chunker parameters and prints R's chunk ids
 * (keyed in an encrypted repository): exactly the chunks a backup of FILE into R stores.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

const saved = { ...process.env };
afterEach(() => {
  for (const k of ['CAIRN_PASSWORD', 'CAIRN_CACHE_DIR', 'CAIRN_REPO']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** The chunks a backup of `dir` (holding the one file `f`) stored for it. */
async function storedChunks(repo: string): Promise<Array<{ id: string; size: number }>> {
  const snap = await cli('--repo', repo, '--json', 'cat', 'snapshot', 'latest');
  expect(snap.code, snap.stderr).toBe(0);
  const tree = await cli('--repo', repo, '--json', 'cat', 'tree', snap.json[0]!.tree as string);
  expect(tree.code, tree.stderr).toBe(0);
  const entries = tree.json[0]!.entries as Array<{ name: string; chunks: [] }>;
  return entries.find((e) => e.name === 'f')!.chunks;
}

describe('cairn chunk --repo', () => {
  for (const encrypted of [false, true]) {
    it(`cuts with the repository's parameters and prints its ids (${encrypted ? 'encrypted' : 'unencrypted'})`, async () => {
      process.env.CAIRN_CACHE_DIR = await tempDir();
      // A password is given for encrypted repositories only.
      if (encrypted) process.env.CAIRN_PASSWORD = 'pw';
      else delete process.env.CAIRN_PASSWORD;
      const repo = join(await tempDir(), 'repo');
      const src = await tempDir();
      const file = join(src, 'f');
      await writeFile(file, pseudoRandomBytes(400_000, 7));
      const init = await cli(
        '--repo',
        repo,
        'init',
        ...(encrypted ? [] : ['--no-encryption', '--seed', '12345']),
        '--min',
        '2K',
        '--avg',
        '8K',
        '--max',
        '24K',
        '--level',
        '2',
      );
      expect(init.code, init.stderr).toBe(0);
      expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
      const stored = await storedChunks(repo);
      expect(stored.length).toBeGreaterThan(10); // not the default 64K cut

      const r = await cli('--repo', repo, '--json', 'chunk', file);
      expect(r.code, r.stderr).toBe(0);
      const cut = r.json.filter((e) => e.type === 'chunk');
      expect(cut.map((c) => ({ id: c.id, size: c.length }))).toEqual(stored);
      let offset = 0;
      for (const c of cut) {
        expect(c.offset).toBe(offset);
        offset += c.length as number;
      }
      expect(offset).toBe(400_000);

      // $CAIRN_REPO is the repository too.
      process.env.CAIRN_REPO = repo;
      const env = await cli('chunk', file);
      expect(env.code, env.stderr).toBe(0);
      expect(
        env.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('\t')[2]),
      ).toEqual(stored.map((c) => c.id));
      // Explicit sizes without --repo cut as told, $CAIRN_REPO or not.
      const own = await cli('--json', 'chunk', file, '--avg', '64K');
      expect(own.code, own.stderr).toBe(0);
      expect(own.json.filter((e) => e.type === 'chunk').length).toBeLessThan(stored.length);
      // So do the level and seed typed at their default values: the default cut.
      const typed = await cli('--json', 'chunk', file, '--level', '1', '--seed', '0');
      delete process.env.CAIRN_REPO;
      const plain = await cli('--json', 'chunk', file);
      expect(typed.code, typed.stderr).toBe(0);
      expect(typed.json).toEqual(plain.json);
      expect(plain.json.map((e) => e.id)).not.toContain(stored[0]!.id);

      // Sizes that are not the repository's would not be its chunks: refused.
      const both = await cli('--repo', repo, 'chunk', file, '--avg', '16K');
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('--repo cannot be combined with --avg');
      const atDefault = await cli('--repo', repo, 'chunk', file, '--level', '1');
      expect(atDefault.code).toBe(2);
      expect(atDefault.stderr).toContain('--repo cannot be combined with --level');
    });
  }

  it('without a repository, errors name the option as typed', async () => {
    delete process.env.CAIRN_REPO;
    const file = join(await tempDir(), 'f');
    await writeFile(file, pseudoRandomBytes(1000, 1));
    const avg = await cli('chunk', file, '--avg', '100');
    expect(avg.code).toBe(2);
    expect(avg.stderr).toContain(
      'cairn: --avg 100: the average chunk size must be from 256 B to 4 MiB',
    );
    const max = await cli('chunk', file, '--max', '8K');
    expect(max.code).toBe(2);
    expect(max.stderr).toContain(
      'cairn: --max 8K: must not be smaller than the average chunk size, 64 KiB (the default; set it with --avg)',
    );
  });
});
