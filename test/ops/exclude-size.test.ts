/**
 * `excludeLargerThan`: regular files of more bytes than the limit are left out (a
 * file of exactly the limit is kept; links and directories are never measured), the
 * pre-scan's totals agree, `-v` names each one, and the stat cache follows a file that
 * shrinks under the limit or grows past it.
 */
import { mkdir, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import type { BackupEvent } from '../../src/ops/events.js';
import { CACHEDIR_SIGNATURE, CACHEDIR_TAG } from '../../src/ops/exclude-tags.js';
import type { Repository } from '../../src/repo/repository.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

async function names(repo: Repository, tree: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (id: string, prefix: string) => {
    for await (const e of repo.trees.entries(id)) {
      const p = prefix ? `${prefix}/${e.name}` : e.name;
      out.push(p);
      if (e.kind === 'dir') await visit(e.tree, p);
    }
  };
  await visit(tree, '');
  return out;
}

describe('exclude larger than', () => {
  for (const workers of [0, 2]) {
    it(`leaves out larger regular files only (workers: ${workers})`, async () => {
      const src = await tempDir();
      await writeTree(src, {
        'small.txt': 'x'.repeat(100),
        'limit.bin': 'y'.repeat(1000),
        'big.bin': 'z'.repeat(1001),
        sub: { 'huge.iso': 'h'.repeat(5000), 'ok.txt': 'ok' },
      });
      await symlink('big.bin', join(src, 'link-to-big'));
      const { repo } = await localRepo();
      const events: BackupEvent[] = [];
      const { snapshot } = await backup(repo, {
        paths: [src],
        excludeLargerThan: 1000,
        statCacheDir: false,
        scan: true,
        verbose: true,
        workers,
        onEvent: (e) => events.push(e),
      });
      expect(await names(repo, snapshot.tree)).toEqual([
        'limit.bin',
        'link-to-big',
        'small.txt',
        'sub',
        'sub/ok.txt',
      ]);
      await vi.waitFor(() => expect(events.some((e) => e.type === 'scan-done')).toBe(true));
      expect(events.find((e) => e.type === 'scan-done')).toMatchObject({
        totalFiles: snapshot.summary.files,
        totalBytes: snapshot.summary.bytes,
      });
      const notes = events.filter((e) => e.type === 'notice' && e.code === 'excluded-by-size');
      expect(notes.map((e) => (e as { path: string }).path).sort()).toEqual([
        join(src, 'big.bin'),
        join(src, 'sub', 'huge.iso'),
      ]);
      expect((notes[0] as { message: string }).message).toContain(
        '1001 bytes is more than --exclude-larger-than',
      );
    });
  }

  it('measures the files of a directory whose name is not UTF-8 (listed unscanned)', async () => {
    const src = await tempDir();
    const odd = Buffer.concat([Buffer.from(`${src}/caf`), Buffer.from([0xe9])]);
    await mkdir(odd);
    await writeFile(Buffer.concat([odd, Buffer.from('/small.txt')]), 's');
    await writeFile(Buffer.concat([odd, Buffer.from('/big.bin')]), 'b'.repeat(2000));
    const { repo } = await localRepo();
    const { snapshot } = await backup(repo, {
      paths: [src],
      excludeLargerThan: 1000,
      statCacheDir: false,
    });
    const found = await names(repo, snapshot.tree);
    expect(found.map((p) => p.slice(p.indexOf('/') + 1))).toEqual(['caf\udce9', 'small.txt']);
  });

  it('follows a file that shrinks under the limit or grows past it, stat cache and all', async () => {
    const src = await tempDir();
    await writeTree(src, { 'log.txt': 'l'.repeat(5000), 'keep.txt': 'k' });
    const old = new Date('2026-01-01T00:00:00Z');
    const settle = async (files = ['log.txt', 'keep.txt']) => {
      // Times well in the past, and a pause, so the stat cache trusts them (a change
      // within 100 ms of a backup's start, ctime included, is too recent to cache).
      for (const f of files) await utimes(join(src, f), old, old);
      await new Promise((resolve) => setTimeout(resolve, 250));
    };
    await settle();
    const { repo } = await localRepo();
    const options = { paths: [src], excludeLargerThan: 4096, statCacheDir: await tempDir() };
    const first = await backup(repo, options);
    expect(await names(repo, first.snapshot.tree)).toEqual(['keep.txt']);
    const again = await backup(repo, options);
    expect(again.snapshot.summary).toMatchObject({ filesUnchanged: 1, filesNew: 0 });
    expect(again.snapshot.tree).toBe(first.snapshot.tree);
    await truncate(join(src, 'log.txt'), 10);
    await settle(['log.txt']);
    const shrunk = await backup(repo, options);
    expect(await names(repo, shrunk.snapshot.tree)).toEqual(['keep.txt', 'log.txt']);
    expect(shrunk.snapshot.summary).toMatchObject({ filesUnchanged: 1, filesNew: 1 });
    await writeFile(join(src, 'log.txt'), 'l'.repeat(9000));
    await settle(['log.txt']);
    const grown = await backup(repo, options);
    expect(await names(repo, grown.snapshot.tree)).toEqual(['keep.txt']);
    expect(grown.snapshot.tree).toBe(first.snapshot.tree);
  });

  it('backs up a file given as a PATH whatever its size, and counts it in the totals', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'big.bin'), 'b'.repeat(5000));
    await writeFile(join(dir, 'small.txt'), 's');
    const { repo } = await localRepo();
    for (const paths of [[join(dir, 'big.bin')], [join(dir, 'big.bin'), join(dir, 'small.txt')]]) {
      const events: BackupEvent[] = [];
      const { snapshot } = await backup(repo, {
        paths,
        excludeLargerThan: 1000,
        statCacheDir: false,
        scan: true,
        onEvent: (e) => events.push(e),
      });
      expect(snapshot.summary.files).toBe(paths.length);
      await vi.waitFor(() => expect(events.some((e) => e.type === 'scan-done')).toBe(true));
      expect(events.find((e) => e.type === 'scan-done')).toMatchObject({
        totalFiles: snapshot.summary.files,
        totalBytes: snapshot.summary.bytes,
      });
    }
  });

  it('keeps a tag file whatever its size, so the directory stays marked', async () => {
    const src = await tempDir();
    const tag = `${CACHEDIR_SIGNATURE}\n${'#'.repeat(200)}\n`;
    await writeTree(src, { cache: { [CACHEDIR_TAG]: tag, 'blob.bin': 'x'.repeat(5000) } });
    const { repo } = await localRepo();
    const { snapshot } = await backup(repo, {
      paths: [src],
      excludeCaches: true,
      excludeLargerThan: 10,
      statCacheDir: false,
    });
    expect(await names(repo, snapshot.tree)).toEqual(['cache', `cache/${CACHEDIR_TAG}`]);
  });

  it('refuses a limit that is not a whole number of bytes', async () => {
    const src = await tempDir();
    const { repo } = await localRepo();
    for (const bad of [-1, 1.5, Number.NaN]) {
      await expect(backup(repo, { paths: [src], excludeLargerThan: bad })).rejects.toThrow(
        UsageError,
      );
    }
  });
});
