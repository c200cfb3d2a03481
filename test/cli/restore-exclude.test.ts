/**
 * `cairn restore --exclude/--exclude-file`: the summary says how many entries were left
 * out; bad values are usage errors before the repository is opened.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

describe('cairn restore --exclude', () => {
  it('leaves out what matches and says how much', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    await writeTree(src, { 'a.txt': 'a', 'b.tmp': 'b', node_modules: { 'x.js': 'x' } });
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    const patterns = join(await tempDir(), 'patterns');
    await writeFile(patterns, '# generated\nnode_modules\n');
    const target = join(await tempDir(), 'out');
    const r = await cli(
      '--repo',
      repo,
      'restore',
      'latest',
      '--target',
      target,
      '-e',
      '*.tmp',
      '--exclude-file',
      patterns,
    );
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toContain('2 entries left out (--exclude); not restored');
    expect(await readdir(target)).toEqual(['a.txt']);
    const j = await cli(
      '--repo',
      repo,
      '--json',
      'restore',
      'latest',
      '--target',
      target,
      '-e',
      '*.txt',
      '--delete',
    );
    expect(j.json.at(-1)).toMatchObject({ type: 'summary', operation: 'restore', excluded: 1 });
    // The rest is restored now; a.txt, excluded, is left as the first restore wrote it.
    expect(await readdir(target)).toEqual(['a.txt', 'b.tmp', 'node_modules']);
  });

  it('refuses empty values and bad patterns before the repository is opened', async () => {
    const repo = join(await tempDir(), 'no-repo-here');
    const cases: Array<[string[], RegExp]> = [
      [['-e', ''], /--exclude "": the pattern is empty/],
      [['-e', 'a[z-a]'], /--exclude: .*z-a/],
      [['--exclude-file', ''], /--exclude-file "": the path is empty/],
      [['--exclude-file', join(repo, 'missing')], /cannot read exclude file/],
    ];
    for (const [args, message] of cases) {
      const r = await cli('--repo', repo, 'restore', 'latest', '--target', '/tmp/x', ...args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
