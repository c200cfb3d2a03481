/**
 * `cairn find`: one heading per snapshot with matches, oldest first, then its matching
 * paths (`-l` with mode, owner, size and time); `--json` one `match` object each and a
 * summary; `--snapshot`, `--tag` and `--host` choose the snapshots; bad patterns and
 * empty values are usage errors before the repository is opened.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

async function setup() {
  process.env.CAIRN_CACHE_DIR = await tempDir();
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  await writeTree(src, { 'db.sql': 'one', etc: { 'app.conf': 'c' } });
  expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
  expect((await cli('--repo', repo, 'backup', src, '--tag', 'first')).code).toBe(0);
  await writeFile(join(src, 'etc', 'more.sql'), 'two');
  expect((await cli('--repo', repo, 'backup', src, '--tag', 'second')).code).toBe(0);
  return { repo, src };
}

describe('cairn find', () => {
  it('lists the matches of each snapshot under a heading, oldest first', async () => {
    const { repo } = await setup();
    const r = await cli('--repo', repo, 'find', '*.sql');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^snapshot [0-9a-f]{8} of .+\(.+: .+\)$/);
    expect(lines[1]).toBe('  db.sql');
    expect(lines[3]).toBe('  db.sql');
    expect(lines[4]).toBe('  etc/more.sql');
    const l = await cli('--repo', repo, 'find', '-l', 'etc', '--tag', 'first');
    expect(l.stdout).toMatch(/\n {2}drwx\S* +\d+ +\d+ +1 \S+ \S+ etc\/\n?$/);
    const none = await cli('--repo', repo, 'find', 'nothing-like-this');
    expect(none.code).toBe(EXIT.ok);
    expect(none.stdout).toContain('no match in 2 snapshots');
  });

  it('gives match objects and a summary with --json, and takes --snapshot', async () => {
    const { repo } = await setup();
    const snaps = await cli('--repo', repo, '--json', 'snapshots');
    const ids = snaps.json.filter((e) => e.type === 'snapshot').map((e) => String(e.id));
    const r = await cli('--repo', repo, '--json', 'find', '*.SQL', '-i', '--snapshot', ids[1]!);
    expect(r.code, r.stderr).toBe(0);
    const matches = r.json.filter((e) => e.type === 'match');
    expect(matches.map((m) => [m.snapshot, m.path, m.kind, m.size])).toEqual([
      [ids[1], 'db.sql', 'file', 3],
      [ids[1], 'etc/more.sql', 'file', 3],
    ]);
    expect(r.json.at(-1)).toEqual({ type: 'summary', operation: 'find', snapshots: 1, matches: 2 });
  });

  it('says which snapshots it could not read, and exits 3', async () => {
    const { repo } = await setup();
    await writeFile(join(repo, 'snapshots', 'ab'.repeat(32)), 'not a snapshot record');
    const r = await cli('--repo', repo, 'find', 'db.sql');
    expect(r.code).toBe(EXIT.partial);
    expect(r.stderr).toContain(`snapshots/${'ab'.repeat(32)}`);
    const j = await cli('--repo', repo, '--json', 'find', 'db.sql');
    expect(j.code).toBe(EXIT.partial);
    expect(j.json.some((e) => e.type === 'warning')).toBe(true);
    expect(j.json.at(-1)).toMatchObject({ type: 'summary', snapshots: 2, unreadable: 1 });
  });

  it('refuses bad patterns and empty values before opening the repository', async () => {
    const noRepo = join(await tempDir(), 'none');
    for (const [args, message] of [
      [['find', '[z-a]'], 'has a range out of order'],
      [['find', ''], 'an empty pattern matches nothing'],
      [['find', 'x', '--snapshot', ''], '--snapshot "": the snapshot is empty'],
      [['find', 'x', '--host', ''], '--host'],
      [['find', 'x', '--path', ''], '--path "": the path is empty'],
    ] as const) {
      const r = await cli('--repo', noRepo, ...args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.stderr).toContain(message);
    }
  });
});
