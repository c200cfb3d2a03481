/**
 * The walk's ordering: children handled synchronously (small files) and asynchronously
 * (subdirectories, chunked files) interleave, yet entries reach the tree in name order,
 * and the result matches a backup that reads everything again.
 */
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { compareNames } from '../../src/manifest/names.js';
import type { Entry } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { BackupWalker } from '../../src/ops/backup-walker.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

async function allEntries(
  repo: Awaited<ReturnType<typeof localRepo>>['repo'],
  tree: string,
): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of repo.trees.entries(tree)) out.push(e);
  return out;
}

describe('backup walk order', () => {
  it('keeps name order across small files, subdirectories and chunked files', async () => {
    const src = await tempDir();
    const names: string[] = [];
    // 300 children: every 37th a subdirectory, every 23rd a chunked file, the rest inline.
    for (let i = 0; i < 300; i++) {
      const name = `c${String(i).padStart(3, '0')}`;
      names.push(name);
      const p = join(src, name);
      if (i % 37 === 0) {
        await mkdir(p);
        for (let j = 0; j < 5; j++) await writeFile(join(p, `f${j}`), pseudoRandomBytes(20, i + j));
      } else if (i % 23 === 0) {
        await writeFile(p, pseudoRandomBytes(5000, i));
      } else {
        await writeFile(p, pseudoRandomBytes(i % 30, i));
      }
      await utimes(p, 1_600_000_000.25, 1_600_000_000.25);
    }
    await new Promise((r) => setTimeout(r, 150));
    const { repo } = await localRepo({ inlineMax: 32 });
    const cacheDir = await tempDir();
    const first = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(first.snapshot.summary.errors).toBe(0);
    const entries = await allEntries(repo, first.snapshot.tree);
    expect(entries.map((e) => e.name)).toEqual(names);
    for (let i = 1; i < entries.length; i++) {
      expect(compareNames(entries[i - 1]!.name, entries[i]!.name)).toBeLessThan(0);
    }
    for (const [i, e] of entries.entries()) {
      if (i % 37 === 0) expect(e.kind).toBe('dir');
      else if (i % 23 === 0) expect(e.kind === 'file' && e.chunks.length > 0).toBe(true);
      else if (e.kind === 'file' && e.size > 0) {
        expect(Buffer.from(e.inline!)).toEqual(pseudoRandomBytes(i % 30, i));
        expect(e.mtime).toEqual({ sec: 1_600_000_000, nsec: 250_000_000 });
      }
    }

    const again = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(again.bytesRead).toBe(0);
    expect(again.snapshot.tree).toBe(first.snapshot.tree);
    const forced = await backup(repo, { paths: [src], statCacheDir: false });
    expect(forced.snapshot.tree).toBe(first.snapshot.tree);
  });

  it('keeps each small file its own bytes when directories change after unchanged files', async () => {
    // Sibling directories walked at once, each with unchanged files before changed ones:
    // a changed file's entry waits while the unchanged ones before it are taken from
    // the previous tree, and meanwhile the other directories encode their small files.
    const src = await tempDir();
    const content = (d: number, f: number, round: number) =>
      pseudoRandomBytes(100 + ((d * 7 + f) % 50), d * 1000 + f * 10 + round);
    for (let d = 0; d < 8; d++) {
      const dir = join(src, `d${d}`);
      await mkdir(dir);
      for (let f = 0; f < 40; f++) {
        const p = join(dir, `f${String(f).padStart(2, '0')}`);
        await writeFile(p, content(d, f, 0));
        await utimes(p, 1_600_000_000, 1_600_000_000);
      }
    }
    await new Promise((r) => setTimeout(r, 150)); // past the cache's "too recent" margin
    const { repo } = await localRepo({ inlineMax: 1024 });
    const cacheDir = await tempDir();
    await backup(repo, { paths: [src], statCacheDir: cacheDir });
    // The second half of every directory changes.
    for (let d = 0; d < 8; d++) {
      for (let f = 20; f < 40; f++) {
        const p = join(src, `d${d}`, `f${String(f).padStart(2, '0')}`);
        await writeFile(p, content(d, f, 1));
        await utimes(p, 1_600_000_100, 1_600_000_100);
      }
    }
    const second = await backup(repo, { paths: [src], statCacheDir: cacheDir });
    expect(second.snapshot.summary.filesChanged).toBe(8 * 20);
    for (let d = 0; d < 8; d++) {
      const dir = (await allEntries(repo, second.snapshot.tree)).find((e) => e.name === `d${d}`)!;
      const files = await allEntries(repo, (dir as Entry & { tree: string }).tree);
      expect(files).toHaveLength(40);
      for (const [f, e] of files.entries()) {
        const want = content(d, f, f < 20 ? 0 : 1);
        expect([
          e.name,
          Buffer.from((e as Entry & { inline: Uint8Array }).inline).equals(want),
        ]).toEqual([e.name, true]);
      }
    }
  });

  it('has at most four subdirectories of a directory in progress at once', async () => {
    const src = await tempDir();
    for (let d = 0; d < 20; d++) {
      const dir = join(src, `d${String(d).padStart(2, '0')}`);
      await mkdir(dir);
      for (let f = 0; f < 30; f++)
        await writeFile(join(dir, `f${f}`), pseudoRandomBytes(200, d * 100 + f));
    }
    const { repo } = await localRepo({ inlineMax: 1024 });
    // Directories in progress, the root included.
    const proto = BackupWalker.prototype;
    const directory = proto.directory;
    let active = 0;
    let most = 0;
    proto.directory = async function (this: BackupWalker, ...args: Parameters<typeof directory>) {
      active++;
      most = Math.max(most, active);
      try {
        return await directory.apply(this, args);
      } finally {
        active--;
      }
    };
    onTestFinished(() => {
      proto.directory = directory;
    });
    const result = await backup(repo, { paths: [src], statCacheDir: false });
    expect(result.snapshot.summary.files).toBe(600);
    expect(most).toBeGreaterThanOrEqual(3); // they do overlap
    expect(most).toBeLessThanOrEqual(1 + 4);
  });
});
