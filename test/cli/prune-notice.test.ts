/**
 * `cairn prune` says that the candidate list of the last mark was damaged and dropped
 * when it finds it, before it deletes anything, not after the deletions.
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

const saved = { ...process.env };
afterEach(() => {
  if (saved.CAIRN_CACHE_DIR === undefined) delete process.env.CAIRN_CACHE_DIR;
  else process.env.CAIRN_CACHE_DIR = saved.CAIRN_CACHE_DIR;
});

/** A repository with a marked candidate list whose part 0 is gone. */
async function damagedMark(): Promise<string> {
  process.env.CAIRN_CACHE_DIR = await tempDir();
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  expect((await cli('--repo', repo, 'init', '--no-encryption', '--avg', '1K')).code).toBe(0);
  await writeFile(join(src, 'a'), pseudoRandomBytes(50_000, 1));
  const first = await cli('--repo', repo, '--json', 'backup', src);
  await writeFile(join(src, 'a'), pseudoRandomBytes(50_000, 2));
  expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
  const id = first.json.at(-1)!.snapshot as string;
  expect((await cli('--repo', repo, 'forget', id)).code).toBe(0);
  const mark = await cli('--repo', repo, 'prune');
  expect(mark.code, mark.stderr).toBe(0);
  const [markId] = await readdir(join(repo, 'prune', 'marks'));
  await rm(join(repo, 'prune', 'marks', markId!, '0'));
  return repo;
}

describe('cairn prune with a damaged candidate list', () => {
  it('says it is dropped before the deletions (text)', async () => {
    const repo = await damagedMark();
    const r = await cli('--repo', repo, 'prune', '--grace', '0');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const dropped = lines.findIndex((l) =>
      l.startsWith('the candidate list of the last mark was damaged and is dropped ('),
    );
    const deleted = lines.findIndex((l) =>
      /^deleted [1-9]\d* tree nodes? and [1-9]\d* data/.test(l),
    );
    expect(dropped, r.stdout).toBeGreaterThanOrEqual(0);
    expect(deleted, r.stdout).toBeGreaterThan(dropped);
    // What is left comes after what was deleted.
    const left = lines.findIndex((l) => / unreferenced blobs? \(.*\) remains?$/.test(l));
    expect(left, r.stdout).toBeGreaterThan(deleted);
    // Counts agree with their nouns: one snapshot "references", none "remain".
    expect(lines[left]).toMatch(
      /^1 snapshot references \d+ blobs; 0 unreferenced blobs \(0 B\) remain$/,
    );
    expect(lines.filter((l) => l.includes('candidate list'))).toHaveLength(1);
  });

  it('emits a notice event when found, before the summary (--json)', async () => {
    const repo = await damagedMark();
    const r = await cli('--repo', repo, '--json', 'prune', '--grace', '0');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.map((e) => e.type)).toEqual(['notice', 'summary']);
    expect(r.json[0]).toMatchObject({
      type: 'notice',
      code: 'candidates-dropped',
      path: 'prune/candidates',
      message: expect.stringContaining('part 0 of the candidate list is missing'),
    });
    expect(r.json[1]).toMatchObject({
      operation: 'prune',
      swept: true,
      droppedCandidates: expect.stringContaining('part 0'),
    });
  });
});
