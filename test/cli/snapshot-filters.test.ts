/**
 * `--tag`, `--host` and `--path` on every command that chooses snapshots: listing
 * commands take the snapshots they match; with a selector they narrow what `latest` and
 * `tag:NAME` mean (an id is taken as it is). `snapshots --latest N` keeps the newest of
 * each host and set of paths; the table names what a replacement replaces.
 */
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

/**
 * Five snapshots, oldest first: 0 `A` of host h1 (tag daily), 1 `B` of h1, 2 `A` of h2,
 * 3 `A` and `B` of h2, 4 `A` of h1 again, with another content.
 */
async function setup() {
  process.env.CAIRN_CACHE_DIR = await tempDir();
  const repo = join(await tempDir(), 'repo');
  const base = await tempDir();
  const A = join(base, 'a');
  const B = join(base, 'b');
  await writeTree(base, { a: { 'x.txt': 'first' }, b: { 'y.txt': 'y' } });
  expect((await inRepo(repo)('init', '--no-encryption')).code).toBe(0);
  const runs: string[][] = [
    [A, '--host', 'h1', '--tag', 'daily'],
    [B, '--host', 'h1'],
    [A, '--host', 'h2'],
    [A, B, '--host', 'h2'],
  ];
  // Each backup's own id (the listing's order could tie on a millisecond).
  const ids: string[] = [];
  const run = async (args: string[]) => {
    const r = await inRepo(repo)('--json', 'backup', ...args);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    ids.push(String(r.json.find((e) => e.type === 'summary')!.snapshot));
  };
  for (const args of runs) await run(args);
  await writeTree(base, { a: { 'x.txt': 'second' } });
  await run([A, '--host', 'h1']);
  // Backups take longer than a millisecond: the listing agrees.
  expect(await listed(repo)).toEqual(ids);
  return { repo, A, B, ids };
}

/** `cairn --repo REPO ...` */
function inRepo(repo: string) {
  return (...args: string[]) => cli('--repo', repo, ...args);
}

/** The ids `snapshots` lists with `args`, oldest first. */
async function listed(repo: string, ...args: string[]): Promise<string[]> {
  const r = await inRepo(repo)('--json', 'snapshots', ...args);
  expect(r.code, r.stderr).toBe(EXIT.ok);
  return r.json.filter((e) => e.type === 'snapshot').map((e) => String(e.id));
}

describe('snapshot filters', () => {
  it('snapshots: --path (all of them, a trailing / aside), --host, --tag, --latest', async () => {
    const { repo, A, B, ids } = await setup();
    expect(await listed(repo, '--host', 'h1', '--path', A)).toEqual([ids[0], ids[4]]);
    expect(await listed(repo, '--path', `${A}/`)).toEqual([ids[0], ids[2], ids[3], ids[4]]);
    expect(await listed(repo, '--path', B, '--path', A)).toEqual([ids[3]]);
    expect(await listed(repo, '--tag', 'daily', '--path', A)).toEqual([ids[0]]);
    // The newest of each host and set of paths.
    expect(await listed(repo, '--latest', '1')).toEqual([ids[1], ids[2], ids[3], ids[4]]);
    expect(await listed(repo, '--latest', '2', '--host', 'h1')).toEqual([ids[0], ids[1], ids[4]]);
    const zero = await inRepo(repo)('snapshots', '--latest', '0');
    expect(zero.code).toBe(EXIT.usage);
  });

  it('--path: relative from the working directory, and stdin:NAME for a stream', async () => {
    const { repo, A, ids } = await setup();
    expect(await listed(repo, '--path', relative(process.cwd(), A))).toEqual(
      await listed(repo, '--path', A),
    );
    const stream = await inRepo(repo)(
      '--json',
      'backup',
      '--stdin-from-command',
      '--stdin-filename',
      'out.txt',
      '--',
      'echo',
      'hi',
    );
    expect(stream.code, stream.stderr).toBe(EXIT.ok);
    const streamed = String(stream.json.find((e) => e.type === 'summary')!.snapshot);
    expect(await listed(repo, '--path', 'stdin:out.txt')).toEqual([streamed]);
    expect(await listed(repo, '--path', 'stdin:other')).toEqual([]);
    expect(ids).not.toContain(streamed);
  });

  it('restore, ls, dump, diff and cat take latest and tag:NAME among what the filters match', async () => {
    const { repo, A, B, ids } = await setup();
    const target = await tempDir();
    const r = await inRepo(repo)(
      'restore',
      'latest',
      '--host',
      'h1',
      '--path',
      B,
      '--target',
      target,
    );
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(await readFile(join(target, 'y.txt'), 'utf8')).toBe('y');

    const ls = await inRepo(repo)('--json', 'ls', 'latest', '--host', 'h2');
    expect(ls.json.at(-1)).toMatchObject({ type: 'summary', snapshot: ids[3] });

    const dump = await inRepo(repo)('dump', 'latest', 'x.txt', '--path', A, '--tag', 'daily');
    expect(dump.stdout).toBe('first');
    const newest = await inRepo(repo)('dump', 'latest', 'x.txt', '--host', 'h1', '--path', A);
    expect(newest.stdout).toBe('second');

    const diff = await inRepo(repo)(
      '--json',
      'diff',
      'tag:daily',
      'latest',
      '--host',
      'h1',
      '--path',
      A,
    );
    expect(diff.code, diff.stderr).toBe(EXIT.ok);
    expect(diff.json.filter((e) => e.type === 'change')).toEqual([
      expect.objectContaining({ change: 'modified', path: 'x.txt' }),
    ]);

    const cat = await inRepo(repo)(
      '--json',
      'cat',
      'snapshot',
      'latest',
      '--host',
      'h2',
      '--path',
      A,
    );
    expect(cat.json[0]).toMatchObject({ type: 'snapshot', id: ids[3] });
    // An id is taken whatever the filters say.
    const byId = await cli(
      '--repo',
      repo,
      '--json',
      'cat',
      'snapshot',
      ids[0]!.slice(0, 8),
      '--host',
      'h2',
    );
    expect(byId.json[0]).toMatchObject({ id: ids[0] });

    const none = await inRepo(repo)('ls', 'latest', '--host', 'h3');
    expect(none.code).toBe(EXIT.failure);
    expect(none.stderr).toContain('no snapshot matches latest among those with host "h3"');
    const config = await inRepo(repo)('cat', 'config', '--host', 'h1');
    expect(config.code).toBe(EXIT.usage);
    expect(config.stderr).toContain('not with cat config');
  });

  it('find, forget and sync take the snapshots the filters match', async () => {
    const { repo, A, B, ids } = await setup();
    const find = await inRepo(repo)('--json', 'find', 'x.txt', '--path', A, '--host', 'h2');
    expect(find.json.filter((e) => e.type === 'match').map((e) => e.snapshot)).toEqual([
      ids[2],
      ids[3],
    ]);
    const one = await inRepo(repo)('--json', 'find', 'x.txt', '-s', 'latest', '--host', 'h2');
    expect(one.json.filter((e) => e.type === 'match').map((e) => e.snapshot)).toEqual([ids[3]]);

    const forget = await inRepo(repo)(
      '--json',
      'forget',
      '--keep-last',
      '1',
      '--host',
      'h1',
      '--path',
      A,
      '-n',
    );
    expect(forget.code, forget.stderr).toBe(EXIT.ok);
    expect(forget.json.at(-1)).toMatchObject({ removed: [ids[0]] });
    const byId = await inRepo(repo)('forget', ids[0]!, '--path', A);
    expect(byId.code).toBe(EXIT.usage);

    const dst = join(await tempDir(), 'dst');
    expect((await cli('--repo', dst, 'init', '--copy-params-from', repo)).code).toBe(EXIT.ok);
    const sync = await cli('sync', repo, dst, '--host', 'h1', '--path', A);
    expect(sync.code, sync.stderr).toBe(EXIT.ok);
    expect(await listed(dst)).toEqual([ids[0], ids[4]]);
    const latest = await cli('sync', repo, dst, 'latest', '--path', B);
    expect(latest.code, latest.stderr).toBe(EXIT.ok);
    expect(await listed(dst)).toEqual([ids[0], ids[3], ids[4]]);
  });

  it('stats counts what the chosen snapshots reference', async () => {
    const { repo, ids } = await setup();
    const r = await inRepo(repo)('--json', 'stats', '--host', 'h2');
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.json.at(-1)).toMatchObject({
      type: 'summary',
      operation: 'stats',
      selected: [ids[2], ids[3]],
      snapshots: 2,
      missingBlobs: 0,
    });
    const text = await inRepo(repo)('stats', 'latest', '--host', 'h1');
    expect(text.stdout).toMatch(/^snapshots\s+1$/m);
    expect(text.stdout).toMatch(
      /^only in these\s+\d+ \(.*\): what forget and prune of them would free$/m,
    );
    const whole = await inRepo(repo)('--json', 'stats');
    expect(whole.json.at(-1)).toMatchObject({ snapshots: 5 });
    expect(whole.json.at(-1)).not.toHaveProperty('selected');
  });

  it('tag and rewrite narrow latest by the filters; the table names what a record replaces', async () => {
    const { repo, A, ids } = await setup();
    const tag = await inRepo(repo)(
      '--json',
      'tag',
      'latest',
      '--host',
      'h2',
      '--path',
      A,
      '--add',
      'kept',
    );
    expect(tag.code, tag.stderr).toBe(EXIT.ok);
    expect(tag.json.find((e) => e.type === 'snapshot')).toMatchObject({ from: ids[3] });
    const rewrite = await inRepo(repo)(
      '--json',
      'rewrite',
      'latest',
      '--host',
      'h1',
      '-e',
      'x.txt',
    );
    expect(rewrite.code, rewrite.stderr).toBe(EXIT.ok);
    expect(rewrite.json.find((e) => e.type === 'snapshot')).toMatchObject({ from: ids[4] });

    const table = await inRepo(repo)('snapshots');
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/ Replaces /);
    const short = (id: string) => id.slice(0, 8);
    // The rewritten record's row names the original, which rewrite kept (its own row).
    expect(lines.filter((l) => l.includes(short(ids[4]!)))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith(short(ids[4]!)))).toHaveLength(1);
    // The record tag replaced is gone; its replacement's row names it.
    expect(lines.filter((l) => l.includes(short(ids[3]!)))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith(short(ids[3]!)))).toHaveLength(0);
  });
});
