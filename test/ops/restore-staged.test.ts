/**
 * Staged directories (restore-fs.ts): a directory restore creates inside another one it
 * created is filled under a temporary name and renamed into place complete.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { chmod, link, mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { blobKey } from '../../src/repo/layout.js';
import {
  describeTree,
  pseudoRandomBytes,
  setMtime,
  tempDir,
  tempsBelow,
  writeTree,
} from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

const CHUNKS = { min: 2048, avg: 8192, max: 32768, level: 1 };

/** A tree with nested directories, inline and chunked files, a symlink and hard links. */
async function sourceTree(): Promise<string> {
  const src = await tempDir();
  const many: Record<string, string> = {};
  for (let i = 0; i < 300; i++) many[`f${i}.txt`] = `file ${i}\n`.repeat(1 + (i % 7));
  await writeTree(src, {
    'top.txt': 'at the top',
    a: { ...many, b: { 'deep.txt': 'deep', c: { 'deeper.txt': 'deeper' } } },
    ro: { 'inside.txt': 'in a read-only directory' },
    links: { 'to-top': { link: '../top.txt' } },
  });
  await writeFile(join(src, 'a', 'big.bin'), pseudoRandomBytes(200_000, 1));
  await writeFile(join(src, 'a', 'b', 'chunked.bin'), pseudoRandomBytes(90_000, 2));
  // Hard links across directories, the first of the group in a staged directory.
  await link(join(src, 'a', 'b', 'chunked.bin'), join(src, 'links', 'same-chunked.bin'));
  await link(join(src, 'a', 'f1.txt'), join(src, 'a', 'b', 'c', 'same-f1.txt'));
  for (const d of ['a/b/c', 'a/b', 'a', 'links']) await setMtime(join(src, d), 1_500_000_000);
  await chmod(join(src, 'ro'), 0o555);
  await setMtime(join(src, 'ro'), 1_400_000_000);
  return src;
}

describe('restore into a new directory stages its subdirectories', () => {
  it('a subdirectory appears under its name only complete; the result is exact', async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 1024 });
    const src = await sourceTree();
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const target = join(await tempDir(), 'new');
    const seenTooEarly: string[] = [];
    let below = 0;
    const s = await restore(repo, snapshotId!, snapshot, {
      target,
      verbose: true,
      onEvent: (e) => {
        if (e.type !== 'file') return;
        const dir = dirname(e.path);
        if (dir === target) return;
        below++;
        // The file is written; its directory must not be visible yet.
        if (existsSync(dir)) seenTooEarly.push(relative(target, e.path));
      },
    });
    expect(s.errors).toBe(0);
    expect(below).toBeGreaterThan(300);
    expect(seenTooEarly).toEqual([]);
    expect(await describeTree(target)).toEqual(await describeTree(src));
    expect(await tempsBelow(target)).toEqual([]);
    const [a, b] = [
      await stat(join(target, 'a', 'b', 'chunked.bin')),
      await stat(join(target, 'links', 'same-chunked.bin')),
    ];
    expect(a.ino).toBe(b.ino);
    const [c, d] = [
      await stat(join(target, 'a', 'f1.txt')),
      await stat(join(target, 'a', 'b', 'c', 'same-f1.txt')),
    ];
    expect(c.ino).toBe(d.ino);
    await chmod(join(target, 'ro'), 0o755); // so the temporary folder can be removed
  });

  it('a name taken while its directory was staged: a warning naming it, no staged copy left', async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 1024 });
    const src = await tempDir();
    await writeTree(src, { a: { 'x.txt': 'x', 'y.txt': 'y' }, b: { 'z.txt': 'z' } });
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const target = join(await tempDir(), 'new');
    let taken = false;
    const warnings: { path: string; message: string }[] = [];
    const s = await restore(repo, snapshotId!, snapshot, {
      target,
      verbose: true,
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e);
        if (e.type === 'file' && dirname(e.path) === join(target, 'a') && !taken) {
          taken = true;
          // Someone else puts a file where directory `a` is about to be renamed.
          writeFileSync(join(target, 'a'), 'in the way');
        }
      },
    });
    expect(taken).toBe(true);
    expect(s.errors).toBe(1);
    expect(warnings.map((w) => w.path)).toEqual([join(target, 'a')]);
    expect(await tempsBelow(target)).toEqual([]);
    expect(await describeTree(join(target, 'b'))).toEqual(await describeTree(join(src, 'b')));
  });

  it('a subdirectory whose listing cannot be read: a warning, the rest of its parent in place', async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 1024 });
    const src = await tempDir();
    await writeTree(src, { a: { 'x.txt': 'x', b: { 'lost.txt': 'lost' }, c: { 'y.txt': 'y' } } });
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const treeOf = async (tree: string, name: string) => {
      for await (const e of repo.trees.entries(tree))
        if (e.name === name && e.kind === 'dir') return e.tree;
      throw new Error(`no directory ${name}`);
    };
    const b = await treeOf(await treeOf(snapshot.tree, 'a'), 'b');
    await repo.backend.delete(blobKey('tree', b));

    const target = join(await tempDir(), 'new');
    const warnings: string[] = [];
    const s = await restore(repo, snapshotId!, snapshot, {
      target,
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e.path);
      },
    });
    expect(s.errors).toBe(1);
    expect(warnings).toEqual([join(target, 'a', 'b')]);
    expect(await tempsBelow(target)).toEqual([]);
    expect(await readdir(join(target, 'a', 'b'))).toEqual([]);
    expect(await describeTree(join(target, 'a', 'c'))).toEqual(
      await describeTree(join(src, 'a', 'c')),
    );
    expect(existsSync(join(target, 'a', 'x.txt'))).toBe(true);
  });

  it("a rerun reuses the chunks of an interrupted restore's staged directories and removes them", async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 1024 });
    const src = await tempDir();
    await mkdir(join(src, 'data'));
    for (let i = 0; i < 4; i++)
      await writeFile(join(src, 'data', `part-${i}.bin`), pseudoRandomBytes(100_000, 10 + i));
    await writeFile(join(src, 'top.bin'), pseudoRandomBytes(50_000, 20));
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    // What a restore killed before renaming `data` into place leaves: its staged copy.
    const first = await tempDir();
    await restore(repo, snapshotId!, snapshot, { target: first });
    const target = await tempDir();
    await rename(join(first, 'data'), join(target, '.cairn-tmp-0123456789abcdef'));

    const s = await restore(repo, snapshotId!, snapshot, { target });
    expect(s.errors).toBe(0);
    expect(s.bytesReused).toBe(400_000);
    expect(s.bytesFetched).toBe(50_000);
    expect(await describeTree(target)).toEqual(await describeTree(src));
    expect(await tempsBelow(target)).toEqual([]);
  });

  it('removes a leftover deeper than PATH_MAX, with read-only folders, without a warning', async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 1024 });
    const src = await tempDir();
    await writeTree(src, { 'a.txt': 'a' });
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const target = await tempDir();
    // A staged folder 30 x 200 bytes deep (made with relative steps: no path this long
    // can be used whole), read-only at every level, with a file at the bottom.
    const script = `const fs = require('node:fs');
      process.chdir(process.argv[1]);
      fs.mkdirSync('.cairn-tmp-0123456789abcdef'); process.chdir('.cairn-tmp-0123456789abcdef');
      for (let i = 0; i < 30; i++) { fs.mkdirSync('${'d'.repeat(200)}'); process.chdir('${'d'.repeat(200)}'); }
      fs.writeFileSync('leaf', 'deep');
      for (let i = 0; i < 31; i++) { process.chdir('..'); fs.chmodSync(i < 30 ? '${'d'.repeat(200)}' : '.cairn-tmp-0123456789abcdef', 0o555); }`;
    execFileSync(process.execPath, ['-e', script, target]);
    const warnings: string[] = [];
    const s = await restore(repo, snapshotId!, snapshot, {
      target,
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(`${e.path}: ${e.message}`);
      },
    });
    expect(warnings).toEqual([]);
    expect(s.errors).toBe(0);
    expect(await readdir(target)).toEqual(['a.txt']);
  });
});

describe('directory counts', () => {
  it('restore counts the directories backup counted: the root (the target) too', async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 1024 });
    const src = await sourceTree();
    const saved = await backup(repo, { paths: [src], statCacheDir: false });
    const target = join(await tempDir(), 'new');
    const s = await restore(repo, saved.snapshotId!, saved.snapshot, { target });
    expect(saved.snapshot.summary.dirs).toBe(6); // the root, a, a/b, a/b/c, ro, links
    expect(s.dirs).toBe(saved.snapshot.summary.dirs);
    // Again over the same target (existing directories), and as a dry run.
    const again = await restore(repo, saved.snapshotId!, saved.snapshot, { target });
    expect(again.dirs).toBe(saved.snapshot.summary.dirs);
    const dry = await restore(repo, saved.snapshotId!, saved.snapshot, {
      target: join(await tempDir(), 'dry'),
      dryRun: true,
    });
    expect(dry.dirs).toBe(saved.snapshot.summary.dirs);
  });
});
