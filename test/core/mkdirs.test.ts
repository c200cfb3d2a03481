/**
 * makeDirectories (src/core/mkdirs.ts): `mkdir -p` with recursive mkdir's results, that
 * gives up where Node's own spins forever (a file system answering ENOENT for a
 * directory whose parent exists, as procfs does).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirectories } from '../../src/core/mkdirs.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { tempDir } from '../helpers/fs.js';
import { memoryRepo } from '../helpers/repo.js';

describe('makeDirectories', () => {
  it('makes missing parents and resolves the topmost one it made, as recursive mkdir', async () => {
    const base = await tempDir();
    const deep = join(base, 'a', 'b', 'c');
    expect(await makeDirectories(deep)).toBe(join(base, 'a'));
    expect(statSync(deep).isDirectory()).toBe(true);
    expect(await makeDirectories(deep)).toBeUndefined();
    expect(await makeDirectories(join(deep, 'd'))).toBe(join(deep, 'd'));
    expect(await mkdir(join(base, 'x', 'y'), { recursive: true })).toBe(join(base, 'x'));
  });

  it('rejects when a file is in the way', async () => {
    const base = await tempDir();
    writeFileSync(join(base, 'file'), 'x');
    await expect(makeDirectories(join(base, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirectories(join(base, 'file', 'sub'))).rejects.toMatchObject({
      code: 'ENOTDIR',
    });
  });

  it('gives up on a second ENOENT instead of retrying forever', async () => {
    const base = await tempDir();
    const stubborn = join(base, 'never');
    const calls: string[] = [];
    const makeOne = async (p: string | Buffer) => {
      calls.push(String(p));
      if (p === stubborn) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      await mkdir(p);
    };
    await expect(makeDirectories(join(stubborn, 'x'), makeOne)).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(calls.filter((c) => c === stubborn).length).toBe(2);
    expect(existsSync(stubborn)).toBe(false);
  });

  it.runIf(process.platform === 'linux')('fails on procfs, where Node spins', async () => {
    await expect(makeDirectories('/proc/cairn-no-such-dir/x')).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it.runIf(process.platform === 'linux')(
    'lets a restore into /proc fail instead of hanging',
    async () => {
      const repo = await memoryRepo();
      const src = await tempDir();
      writeFileSync(join(src, 'a'), 'hello');
      const { snapshot, snapshotId } = await backup(repo, { paths: [src] });
      await expect(
        restore(repo, snapshotId!, snapshot, { target: '/proc/cairn-no-such-dir' }),
      ).rejects.toMatchObject({ code: 'ENOENT' });
    },
    10_000,
  );
});
