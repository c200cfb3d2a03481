/**
 * Names that are not UTF-8 in the incremental path: the stat cache keys them by their
 * bytes, so an unchanged file with such a name is not read again, and two names that
 * differ only in invalid bytes are never confused.
 */
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nameToBytes } from '../../src/core/fs-names.js';
import { backup } from '../../src/ops/backup.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

const bytesOf = (dir: string, ...parts: Array<string | number[]>) =>
  Buffer.concat([
    Buffer.from(`${dir}/`),
    ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))),
  ]);

describe('incremental backup of names that are not UTF-8', () => {
  it('reads unchanged files with such names once, and tells apart names that differ in invalid bytes', async () => {
    const src = await tempDir();
    const paths = [
      bytesOf(src, 'a-', [0xff]),
      bytesOf(src, 'a-', [0xfe]),
      bytesOf(src, 'dir-', [0xe9]),
      bytesOf(src, 'dir-', [0xe9], '/in-', [0x80]),
    ];
    writeFileSync(paths[0]!, pseudoRandomBytes(5000, 1));
    writeFileSync(paths[1]!, pseudoRandomBytes(5000, 2));
    mkdirSync(paths[2]!);
    writeFileSync(paths[3]!, pseudoRandomBytes(5000, 3));
    symlinkSync(Buffer.from([0x61, 0x2d, 0xff]), bytesOf(src, 'link'));
    for (const p of [paths[0]!, paths[1]!, paths[3]!]) utimesSync(p, 1_600_000_000, 1_600_000_000);
    await new Promise((r) => setTimeout(r, 150));
    const { repo } = await localRepo();
    const cacheDir = await tempDir();
    const first = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(first.snapshot.summary.filesNew).toBe(3);
    expect(first.snapshot.summary.errors).toBe(0);
    const second = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(second.snapshot.summary.filesUnchanged).toBe(3);
    expect(second.bytesRead).toBe(0);
    expect(second.snapshot.tree).toBe(first.snapshot.tree);
    // The two names differing only in an invalid byte are two entries.
    const names: string[] = [];
    for await (const e of repo.trees.entries(first.snapshot.tree)) names.push(e.name);
    expect(names.map((n) => nameToBytes(n).toString('hex'))).toEqual(
      ['a-\udcfe', 'a-\udcff', 'dir-\udce9', 'link'].map((n) => nameToBytes(n).toString('hex')),
    );
  });
});
