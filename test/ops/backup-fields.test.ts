/**
 * The library's `backup()` refuses tags, hosts, users and paths a snapshot record could
 * not hold before it stores anything (the CLI checks its options too, but library
 * callers get the same protection).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { type BackupOptions, backup } from '../../src/ops/backup.js';
import type { Repository } from '../../src/repo/repository.js';
import { tempDir } from '../helpers/fs.js';
import { memoryRepo } from '../helpers/repo.js';

async function keys(repo: Repository): Promise<string[]> {
  const out: string[] = [];
  for await (const o of repo.backend.list('')) out.push(o.key);
  return out.sort();
}

describe('backup() checks the snapshot fields it is given before storing anything', () => {
  const cases: Array<[string, Partial<BackupOptions>, RegExp]> = [
    ['a tag with a space', { tags: ['a b'] }, /tags.*"a b"/],
    ['an empty tag', { tags: [''] }, /tags.*""/],
    ['a tag with a comma', { tags: ['a,b'] }, /tags.*"a,b"/],
    ['a 1100-character host', { hostname: 'h'.repeat(1100) }, /host.*longer than 1024/],
    ['a 1100-character user', { username: 'u'.repeat(1100) }, /user.*longer than 1024/],
  ];

  it.each(cases)('%s', async (_name, change, message) => {
    const repo = await memoryRepo();
    const src = await tempDir();
    await writeFile(join(src, 'f'), 'content '.repeat(1000));
    const before = await keys(repo);
    const run = backup(repo, { paths: [src], statCacheDir: false, workers: 0, ...change });
    await expect(run).rejects.toThrow(UsageError);
    await expect(run).rejects.toThrow(message);
    expect(await keys(repo)).toEqual(before);
    expect(await repo.snapshots.list()).toEqual([]);
  });

  it('an empty path is refused rather than backing up the working directory', async () => {
    const repo = await memoryRepo();
    const src = await tempDir();
    const cwd = process.cwd();
    process.chdir(src); // what an unchecked '' resolves to
    try {
      const run = backup(repo, { paths: [src, ''], statCacheDir: false, workers: 0 });
      await expect(run).rejects.toThrow(UsageError);
      await expect(run).rejects.toThrow(/empty path/);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a path given twice is named, even when spelled differently', async () => {
    const repo = await memoryRepo();
    const src = await tempDir();
    await writeFile(join(src, 'f'), 'x');
    const run = backup(repo, {
      paths: [join(src, 'f'), `${src}/./f`],
      statCacheDir: false,
      workers: 0,
    });
    await expect(run).rejects.toThrow(`${join(src, 'f')} is given twice`);
  });
});
