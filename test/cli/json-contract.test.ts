/**
 * The `--json` contract (docs/cli.md › Output): every line is one JSON object with a
 * `type`, and a command ends with a `summary` (or an `error`): also `snapshots` on an
 * empty repository, `ls`, `key list` and `cat`. And `ls -l` shows local times, as
 * `snapshots` does.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

/** Every stdout line parses as an object with a string `type`; returns them. */
function typedLines(stdout: string): Array<Record<string, unknown>> {
  const lines = stdout.split('\n').filter((l) => l !== '');
  const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const o of objects) expect(typeof o.type).toBe('string');
  return objects;
}

const savedTz = process.env.TZ;
afterEach(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

describe('--json output', () => {
  it('lists end with a summary, also when empty; cat prints one typed line', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    process.env.CAIRN_PASSWORD = 'json contract';
    const repo = join(await tempDir(), 'repo');
    expect((await cli('--repo', repo, 'init')).code).toBe(0);

    const empty = await cli('--repo', repo, '--json', 'snapshots');
    expect(typedLines(empty.stdout)).toEqual([
      { type: 'summary', operation: 'snapshots', snapshots: 0 },
    ]);

    const src = await tempDir();
    writeFileSync(join(src, 'a.txt'), 'a'.repeat(40_000));
    writeFileSync(join(src, 'b.txt'), 'b');
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);

    const snaps = typedLines((await cli('--repo', repo, '--json', 'snapshots')).stdout);
    expect(snaps.map((o) => o.type)).toEqual(['snapshot', 'summary']);
    const ls = typedLines((await cli('--repo', repo, '--json', 'ls', 'latest')).stdout);
    expect(ls.at(-1)).toMatchObject({ type: 'summary', operation: 'ls', entries: 2 });
    const keys = typedLines((await cli('--repo', repo, '--json', 'key', 'list')).stdout);
    expect(keys.at(-1)).toMatchObject({ type: 'summary', operation: 'key list', keys: 1 });

    const config = typedLines((await cli('--repo', repo, '--json', 'cat', 'config')).stdout);
    expect(config).toHaveLength(1);
    expect(config[0]).toMatchObject({ type: 'config', cairn: 'repository' });
    const snap = typedLines(
      (await cli('--repo', repo, '--json', 'cat', 'snapshot', 'latest')).stdout,
    );
    expect(snap).toHaveLength(1);
    expect(snap[0]).toMatchObject({ type: 'snapshot', id: snaps[0]!.id });
    const treeId = snap[0]!.tree as string;
    const tree = typedLines((await cli('--repo', repo, '--json', 'cat', 'tree', treeId)).stdout);
    expect(tree).toHaveLength(1);
    expect(tree[0]).toMatchObject({ type: 'tree', id: treeId });
    const file = (tree[0]!.entries as Array<{ name: string; chunks?: Array<{ id: string }> }>).find(
      (e) => e.name === 'a.txt',
    );
    const blobId = file!.chunks![0]!.id;
    const blob = typedLines((await cli('--repo', repo, '--json', 'cat', 'blob', blobId)).stdout);
    expect(blob).toHaveLength(1);
    expect(blob[0]).toMatchObject({ type: 'blob', id: blobId });
    expect(Buffer.from(blob[0]!.base64 as string, 'base64').toString()).toMatch(/^a+$/);

    // Without --json, cat still prints indented JSON for people.
    const text = await cli('--repo', repo, 'cat', 'snapshot', 'latest');
    expect(JSON.parse(text.stdout)).toMatchObject({ id: snaps[0]!.id, tree: treeId });
  });

  it('ls -l shows modification times in local time, as snapshots does', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    delete process.env.CAIRN_PASSWORD; // the repository is unencrypted
    const repo = join(await tempDir(), 'repo');
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    const src = await tempDir();
    writeFileSync(join(src, 'f'), 'x');
    // 2026-01-02 03:04:05 UTC is 2026-01-01 22:04:05 in New York (UTC-5 in winter).
    utimesSync(join(src, 'f'), 1767323045, 1767323045);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    process.env.TZ = 'America/New_York';
    const ls = await cli('--repo', repo, 'ls', '-l', 'latest');
    expect(ls.stdout).toContain('2026-01-01 22:04:05 f');
  });
});
