/**
 * `cairn stats --json` reports progress while it lists a repository of many objects,
 * and while it walks the trees of chosen snapshots.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

describe('cairn stats progress', () => {
  it('emits progress objects before the summary', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    await writeTree(src, { 'random.bin': randomBytes(600_000) });
    const init = await cli(
      '--repo',
      repo,
      'init',
      '--no-encryption',
      '--min',
      '64',
      '--avg',
      '256',
      '--max',
      '1024',
    );
    expect(init.code, init.stderr).toBe(EXIT.ok);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(EXIT.ok);
    for (const args of [['stats'], ['stats', 'latest']]) {
      const r = await cli('--repo', repo, '--json', ...args);
      expect(r.code, r.stderr).toBe(EXIT.ok);
      const progress = r.json.filter((e) => e.type === 'progress');
      expect(progress.length, args.join(' ')).toBeGreaterThan(0);
      expect(progress[0]).toMatchObject({ operation: 'stats', phase: 'list' });
      expect(r.json.at(-1)).toMatchObject({ type: 'summary', operation: 'stats' });
    }
  });
});
