/**
 * `cairn tag`: one line per replaced record and a summary (`--json`: a `snapshot` object
 * with `from` and `original`, then the summary); `snapshots` shows the new tags; bad
 * combinations and empty values are usage errors before the repository is opened.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

async function setup() {
  process.env.CAIRN_CACHE_DIR = await tempDir();
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  await writeTree(src, { 'a.txt': 'a' });
  expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
  expect((await cli('--repo', repo, 'backup', src, '--tag', 'first')).code).toBe(0);
  await writeTree(src, { 'b.txt': 'b' });
  expect((await cli('--repo', repo, 'backup', src, '--host', 'h2')).code).toBe(0);
  const snaps = await cli('--repo', repo, '--json', 'snapshots');
  const ids = snaps.json.filter((e) => e.type === 'snapshot').map((e) => String(e.id));
  return { repo, ids };
}

describe('cairn tag', () => {
  it('replaces records and says so; snapshots shows the new tags', async () => {
    const { repo, ids } = await setup();
    const r = await cli('--repo', repo, 'tag', ids[0]!.slice(0, 8), '--add', 'release,v1');
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toMatch(
      new RegExp(
        `^replaced ${ids[0]!.slice(0, 8)} \\(.+\\) by [0-9a-f]{8}: tags first,release,v1\\n`,
      ),
    );
    expect(r.stdout).toContain('changed the tags of 1 snapshot(s); 0 already as asked');
    const list = await cli('--repo', repo, 'snapshots', '--tag', 'release');
    expect(list.stdout).toContain('first,release,v1');
    expect(list.stdout).toContain('1 snapshot\n');

    const j = await cli('--repo', repo, '--json', 'tag', '--host', 'h2', '--set', 'x', '-n');
    expect(j.code, j.stderr).toBe(EXIT.ok);
    const snap = j.json.find((e) => e.type === 'snapshot')!;
    expect(snap).toMatchObject({ from: ids[1], original: ids[1], tags: ['x'], hostname: 'h2' });
    expect(j.json.at(-1)).toEqual({
      type: 'summary',
      operation: 'tag',
      changed: 1,
      unchanged: 0,
      leftovers: [],
      dryRun: true,
    });
    // The dry run changed nothing.
    const after = await cli('--repo', repo, '--json', 'snapshots', '--host', 'h2');
    expect(after.json.find((e) => e.type === 'snapshot')).toMatchObject({ id: ids[1], tags: [] });
    const none = await cli('--repo', repo, 'tag', '--tag', 'nothing-has-it', '--add', 'x');
    expect(none.code).toBe(EXIT.ok);
    expect(none.stderr).toContain('note: no snapshot matches the selection: nothing to change');
    const cleared = await cli('--repo', repo, 'tag', '--tag', 'release', '--clear');
    expect(cleared.stdout).toMatch(/by [0-9a-f]{8}: tags \(none\)/);
  });

  it('refuses what says nothing or contradicts before the repository is opened', async () => {
    const repo = join(await tempDir(), 'no-repo-here');
    const cases: Array<[string[], RegExp]> = [
      [['tag', 'latest'], /needs --add, --remove, --set or --clear/],
      [['tag', '--set', 'a', '--add', 'b'], /--set replaces every tag: not with --add/],
      [['tag', '--clear', '--remove', 'b'], /--clear replaces every tag/],
      [['tag', '--clear', '--set', 'b'], /--clear and --set/],
      [['tag', '--set', ''], /names no tag \(to remove every tag: --clear\)/],
      [['tag', '--add', 'bad\u0001tag'], /--add: bad tag/],
      [['tag', '--host', '', '--add', 'b'], /--host: the name is empty/],
    ];
    for (const [args, message] of cases) {
      const r = await cli('--repo', repo, ...args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
