/**
 * `cairn backup --time` and `--skip-if-unchanged`: the time recorded (local unless a
 * zone is given), the line saying why no snapshot was saved (`unchangedSince` in the
 * JSON summary), and a bad time as a usage error before the repository is opened.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

describe('cairn backup --time, --skip-if-unchanged', () => {
  it('records the time given, and saves nothing when nothing changed', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    await writeTree(src, { 'a.txt': 'a' });
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(EXIT.ok);
    const old = await cli(
      '--repo',
      repo,
      '--json',
      'backup',
      src,
      '--time',
      '2020-02-29T10:00:00Z',
    );
    expect(old.code, old.stderr).toBe(EXIT.ok);
    const id = String(old.json.find((e) => e.type === 'summary')!.snapshot);
    const record = await cli('--repo', repo, '--json', 'cat', 'snapshot', id);
    expect(record.json[0]).toMatchObject({ time: '2020-02-29T10:00:00.000Z' });

    const skipped = await cli('--repo', repo, 'backup', src, '--skip-if-unchanged');
    expect(skipped.code, skipped.stderr).toBe(EXIT.ok);
    expect(skipped.stdout).toContain(
      `nothing changed since snapshot ${id.slice(0, 8)}: no snapshot saved (--skip-if-unchanged)`,
    );
    const json = await cli('--repo', repo, '--json', 'backup', src, '--skip-if-unchanged');
    expect(json.json.at(-1)).toMatchObject({ type: 'summary', snapshot: null, unchangedSince: id });
    const list = await cli('--repo', repo, '--json', 'snapshots');
    expect(list.json.filter((e) => e.type === 'snapshot')).toHaveLength(1);

    const bad = await cli(
      '--repo',
      join(await tempDir(), 'none'),
      'backup',
      src,
      '--time',
      'last week',
    );
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain('--time: "last week" is not a time');
  });
});
