/**
 * `cairn rewrite`: a line per rewritten snapshot with what was removed, `-v` every
 * removed path, `--json` a `snapshot` object (with `from`, `original` and `removed`)
 * and a summary; `--forget` removes the originals; usage errors come before the
 * repository is opened.
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
  await writeTree(src, { id_rsa: 'KEY', app: { 'main.js': 'm', 'debug.log': 'l'.repeat(100) } });
  expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
  expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
  const snaps = await cli('--repo', repo, '--json', 'snapshots');
  const ids = snaps.json.filter((e) => e.type === 'snapshot').map((e) => String(e.id));
  return { repo, src, ids };
}

describe('cairn rewrite', () => {
  it('says what it removes from which snapshot, and keeps or forgets the originals', async () => {
    const { repo, src, ids } = await setup();
    const dry = await cli('--repo', repo, 'rewrite', '-n', '-v', '-e', 'id_rsa', '-e', '*.log');
    expect(dry.code, dry.stderr).toBe(EXIT.ok);
    expect(dry.stdout).toContain('  would remove app/debug.log\n  would remove id_rsa\n');
    expect(dry.stdout).toMatch(
      new RegExp(
        `would rewrite ${ids[0]!.slice(0, 8)} \\(.+\\): would remove 2 file\\(s\\), 0 directories, 103 B`,
      ),
    );
    expect(dry.stdout).toContain('would rewrite 1 snapshot(s); 0 held nothing to remove');

    // A pattern written as a source path matches nothing inside the snapshot: said, with how.
    const sourcePath = await cli('--repo', repo, 'rewrite', '-n', '-e', `${src}/id_rsa`);
    expect(sourcePath.code).toBe(EXIT.ok);
    expect(sourcePath.stderr).toContain(
      `matched nothing in 1 snapshot (patterns match paths inside the snapshot: in a backup of ${src}, ${src}/id_rsa is /id_rsa)`,
    );
    const j = await cli('--repo', repo, '--json', 'rewrite', '-e', 'id_rsa');
    expect(j.code, j.stderr).toBe(EXIT.ok);
    const snap = j.json.find((e) => e.type === 'snapshot')!;
    expect(snap).toMatchObject({
      from: ids[0],
      original: ids[0],
      removed: { files: 1, dirs: 0, others: 0, bytes: 3 },
    });
    expect(j.json.at(-1)).toEqual({
      type: 'summary',
      operation: 'rewrite',
      rewritten: 1,
      unchanged: 0,
      superseded: [],
      failed: [],
      forgotten: 0,
      unmatched: [],
      dryRun: false,
    });
    const listed = await cli('--repo', repo, '--json', 'snapshots');
    expect(
      listed.json
        .filter((e) => e.type === 'snapshot')
        .map((e) => e.id)
        .sort(),
    ).toEqual([ids[0], snap.id].sort());

    const forgot = await cli(
      '--repo',
      repo,
      'rewrite',
      String(snap.id).slice(0, 8),
      '-e',
      '*.log',
      '--forget',
    );
    expect(forgot.code, forgot.stderr).toBe(EXIT.ok);
    expect(forgot.stderr).toContain('the 1 original record(s) are removed');
    const after = await cli('--repo', repo, '--json', 'snapshots');
    // Both records have the backup's time: tell them apart by `original`.
    const left = after.json.filter((e) => e.type === 'snapshot');
    expect(left).toHaveLength(2);
    const first = left.find((e) => e.id === ids[0])!;
    const latest = left.find((e) => e.id !== ids[0])!;
    expect(first.original).toBeUndefined();
    expect(latest.original).toBe(snap.id);
    expect((first.summary as { files: number }).files).toBe(3);
    expect((latest.summary as { files: number }).files).toBe(1);
    const ls = await cli('--repo', repo, 'ls', String(latest.id));
    expect(ls.stdout.trim().split('\n')).toEqual(['app/', 'app/main.js']);
    // Chosen by filter, the original the first rewrite kept is left alone: a new rewrite
    // of it would outrank the one that removed id_rsa.
    const again = await cli('--repo', repo, '--json', 'rewrite', '-e', 'main.js', '-n');
    expect(again.code, again.stderr).toBe(EXIT.ok);
    expect(again.json.at(-1)).toMatchObject({ rewritten: 1, superseded: [ids[0]] });
    const note = await cli('--repo', repo, 'rewrite', '-e', 'main.js', '-n');
    expect(note.stderr).toContain(
      `left 1 snapshot alone (${ids[0]!.slice(0, 8)}): a rewrite of each is there already`,
    );
    const check = await cli('--repo', repo, 'check', '--read-data');
    expect(check.code, check.stdout + check.stderr).toBe(EXIT.ok);
  });

  it('refuses bad requests before the repository is opened', async () => {
    const repo = join(await tempDir(), 'no-repo-here');
    const empty = join(await tempDir(), 'empty-excludes');
    await writeFile(empty, '# nothing\n');
    const cases: Array<[string[], RegExp]> = [
      [['rewrite'], /needs what to remove/],
      [['rewrite', '--exclude-file', empty], /needs what to remove/],
      [['rewrite', '-e', ''], /--exclude "": the pattern is empty/],
      [['rewrite', '-e', '[z-a]'], /--exclude: .*z-a/],
      [['rewrite', 'latest', '--path', '', '-e', 'x'], /--path "": the path is empty/],
      [['rewrite', '--exclude-file', join(empty, 'nope'), '-e', 'x'], /cannot read exclude file/],
    ];
    for (const [args, message] of cases) {
      const r = await cli('--repo', repo, ...args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
