/**
 * `cairn backup` refuses, before anything is written, option values and paths the
 * snapshot record could not hold: one record the decoder refuses would make every
 * later command on the repository fail.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

async function setup() {
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  await writeFile(join(src, 'a.txt'), 'hello\n');
  process.env.CAIRN_CACHE_DIR = await tempDir();
  expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
  return { repo, src };
}

/** Every file in the repository directory. */
async function files(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true, withFileTypes: true });
  return all
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Runs a backup that must be refused as a usage error, writing nothing. */
async function refused(repo: string, ...args: string[]) {
  const before = await files(repo);
  const run = await cli('--repo', repo, 'backup', ...args);
  expect(run.code).toBe(2);
  expect(await files(repo)).toEqual(before);
  return run;
}

/** The repository still works: a good backup, then `snapshots` lists it. */
async function stillUsable(repo: string, src: string) {
  expect((await cli('--repo', repo, 'backup', src, '--tag', 'ok')).code).toBe(0);
  const snaps = await cli('--repo', repo, '--json', 'snapshots');
  expect(snaps.code).toBe(0);
  expect(snaps.json.filter((e) => e.type === 'snapshot').map((s) => s.tags)).toEqual([['ok']]);
}

describe('cairn backup refuses what a snapshot record cannot hold', () => {
  it('a tag with a space: exit 2 naming the option, the value and the rule', async () => {
    const { repo, src } = await setup();
    const run = await refused(repo, src, '-t', 'a b');
    expect(run.stderr).toMatch(/--tag/);
    expect(run.stderr).toContain('"a b"');
    expect(run.stderr).toMatch(/no whitespace/);
    await stillUsable(repo, src);
  });

  it('a bad tag among good ones, comma-separated', async () => {
    const { repo, src } = await setup();
    const run = await refused(repo, src, '--tag', 'v1,has\ttab', '--tag', 'v2');
    expect(run.stderr).toContain('"has\\ttab"');
    await stillUsable(repo, src);
  });

  it('a 257-character tag', async () => {
    const { repo, src } = await setup();
    const run = await refused(repo, src, '--tag', 't'.repeat(257));
    expect(run.stderr).toMatch(/--tag.*256/);
  });

  it('a 1100-character host: exit 2 naming the option and the limit', async () => {
    const { repo, src } = await setup();
    const run = await refused(repo, src, '--host', 'h'.repeat(1100));
    expect(run.stderr).toMatch(/--host.*longer than 1024 characters: "hhh/);
    await stillUsable(repo, src);
  });

  it('an empty host', async () => {
    const { repo, src } = await setup();
    const run = await refused(repo, src, '--host', '');
    expect(run.stderr).toMatch(/--host.*empty/);
  });

  it('an empty path, rather than backing up the working directory', async () => {
    const { repo, src } = await setup();
    const cwd = process.cwd();
    process.chdir(src); // what the unfixed command backs up
    try {
      const run = await refused(repo, '');
      expect(run.stderr).toMatch(/empty path/);
      expect((await refused(repo, src, '')).stderr).toMatch(/empty path/);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a path given twice is named', async () => {
    const { repo, src } = await setup();
    const run = await refused(repo, join(src, 'a.txt'), join(src, 'a.txt'));
    expect(run.stderr).toContain(`${join(src, 'a.txt')} is given twice`);
  });
});
