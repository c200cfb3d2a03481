/**
 * Directories left out by a tag file inside them (`excludeCaches`, `excludeIfPresent`):
 * a tagged directory is kept with its tag files and nothing else; a tag whose header
 * does not match (other bytes, too short, not a regular file, a FIFO) tags nothing;
 * a link to a valid tag file tags; the stat cache follows a tag added or removed; the
 * pre-scan's totals agree with what the walk backs up.
 */
import { execFileSync } from 'node:child_process';
import { rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import { scanDirectory } from '../../src/ops/dir-scan.js';
import type { BackupEvent } from '../../src/ops/events.js';
import {
  CACHEDIR_EXCLUDE_TAG,
  CACHEDIR_SIGNATURE,
  CACHEDIR_TAG,
  parseExcludeTag,
  TagExcluder,
} from '../../src/ops/exclude-tags.js';
import { restore } from '../../src/ops/restore.js';
import type { Repository } from '../../src/repo/repository.js';
import { describeTree, tempDir, writeTree } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

const VALID = `${CACHEDIR_SIGNATURE}\n# This file is a cache directory tag.\n`;

/** The paths (files and directories) of the newest backup of `repo`, restored. */
async function restoredPaths(repo: Repository, snapshotId: string): Promise<string[]> {
  const ref = (await repo.snapshots.list()).find((r) => r.id === snapshotId)!;
  const target = await tempDir();
  await restore(repo, ref.id, ref.snapshot, { target });
  return (await describeTree(target, { mtimes: false }))
    .map((line) => line.split(' ').slice(0, 2).join(' '))
    .sort();
}

async function sourceTree(): Promise<string> {
  const src = await tempDir();
  await writeTree(src, {
    'keep.txt': 'k',
    cache: { [CACHEDIR_TAG]: VALID, 'big.bin': 'x'.repeat(5000), sub: { deep: 'd' } },
    other: { [CACHEDIR_TAG]: 'Signature: not the one\n', f: 'f' },
    short: { [CACHEDIR_TAG]: CACHEDIR_SIGNATURE.slice(0, 20), f: 'f' },
    dirtag: { [CACHEDIR_TAG]: { inside: VALID }, f: 'f' },
    linked: { [CACHEDIR_TAG]: { link: `../cache/${CACHEDIR_TAG}` }, f: 'f' },
    marked: { '.nobackup': '', f: 'f', d: { g: 'g' } },
  });
  return src;
}

describe('exclude tags', () => {
  it('parses NAME and NAME:HEADER and refuses what is not a file name', () => {
    expect(parseExcludeTag('.nobackup')).toEqual({ name: '.nobackup' });
    expect(parseExcludeTag('.nobackup:')).toEqual({ name: '.nobackup' });
    expect(parseExcludeTag('T:a:b')).toEqual({ name: 'T', header: Buffer.from('a:b') });
    for (const bad of ['', ':head', 'a/b', '.', '..']) {
      expect(() => parseExcludeTag(bad), bad).toThrow(UsageError);
    }
    expect(() => parseExcludeTag(':x')).toThrow("no file name before the ':'");
    expect(() => parseExcludeTag('a/b')).toThrow('the name must be a file name, not a path');
  });

  it('leaves out all but the tag files of tagged directories, and nothing else', async () => {
    const src = await sourceTree();
    const { repo } = await localRepo();
    const events: BackupEvent[] = [];
    const { snapshotId, snapshot } = await backup(repo, {
      paths: [src],
      excludeCaches: true,
      excludeIfPresent: ['.nobackup'],
      statCacheDir: false,
      scan: true,
      verbose: true,
      onEvent: (e) => events.push(e),
    });
    expect(await restoredPaths(repo, snapshotId!)).toEqual(
      [
        `f cache/${CACHEDIR_TAG}`,
        'd cache',
        'f keep.txt',
        // A header that differs, a tag file shorter than it, a directory of that name:
        // not tagged.
        `f other/${CACHEDIR_TAG}`,
        'f other/f',
        'd other',
        `f short/${CACHEDIR_TAG}`,
        'f short/f',
        'd short',
        `f dirtag/${CACHEDIR_TAG}/inside`,
        `d dirtag/${CACHEDIR_TAG}`,
        'f dirtag/f',
        'd dirtag',
        // A link to a valid tag file tags (its content is read through the link).
        `l linked/${CACHEDIR_TAG}`,
        'd linked',
        // Without a header, the name alone tags.
        'f marked/.nobackup',
        'd marked',
      ].sort(),
    );
    // The pre-scan's totals are what the walk backed up (it runs alongside: wait for it).
    await vi.waitFor(() => expect(events.some((e) => e.type === 'scan-done')).toBe(true));
    const scanned = events.find((e) => e.type === 'scan-done');
    expect(scanned).toMatchObject({ totalFiles: snapshot.summary.files });
    // -v names each directory left out.
    const notes = events.filter((e) => e.type === 'notice' && e.code === 'excluded-by-tag');
    expect(notes.map((e) => (e as { path: string }).path).sort()).toEqual(
      ['cache', 'linked', 'marked'].map((d) => join(src, d)),
    );
    expect((notes[0] as { message: string }).message).toContain(
      `content left out, tagged by ${CACHEDIR_TAG}`,
    );
  });

  it('excludes nothing without the options, and drops a tag file a glob excludes', async () => {
    const src = await sourceTree();
    const { repo } = await localRepo();
    const plain = await backup(repo, { paths: [src], statCacheDir: false });
    expect(await restoredPaths(repo, plain.snapshotId!)).toContain('f cache/sub/deep');
    const globbed = await backup(repo, {
      paths: [src],
      excludeCaches: true,
      excludes: [CACHEDIR_TAG],
      statCacheDir: false,
    });
    const paths = await restoredPaths(repo, globbed.snapshotId!);
    expect(paths).toContain('d cache');
    expect(paths.filter((p) => p.startsWith('f cache/') || p.startsWith('d cache/'))).toEqual([]);
    // Untagged directories lose only the globbed name.
    expect(paths).toContain('f other/f');
    expect(paths).not.toContain(`f other/${CACHEDIR_TAG}`);
  });

  it('does not wait on a FIFO named like the tag file', async () => {
    const src = await tempDir();
    await writeTree(src, { pipe: { f: 'f' } });
    execFileSync('mkfifo', [join(src, 'pipe', CACHEDIR_TAG)]);
    const { repo } = await localRepo();
    const { snapshotId } = await backup(repo, {
      paths: [src],
      excludeCaches: true,
      statCacheDir: false,
    });
    expect(await restoredPaths(repo, snapshotId!)).toContain('f pipe/f');
  });

  it('follows a tag added or removed between backups, stat cache and all', async () => {
    const src = await sourceTree();
    const { repo } = await localRepo();
    const statCacheDir = await tempDir();
    const options = { paths: [src], excludeCaches: true, statCacheDir };
    const first = await backup(repo, options);
    expect(await restoredPaths(repo, first.snapshotId!)).not.toContain('f cache/big.bin');
    await rm(join(src, 'cache', CACHEDIR_TAG));
    const untagged = await backup(repo, options);
    const back = await restoredPaths(repo, untagged.snapshotId!);
    expect(back).toContain('f cache/big.bin');
    expect(back).toContain('f cache/sub/deep');
    await writeFile(join(src, 'cache', CACHEDIR_TAG), VALID);
    const tagged = await backup(repo, options);
    expect(await restoredPaths(repo, tagged.snapshotId!)).not.toContain('f cache/big.bin');
    // A tag file replaced by a link to a valid one still tags.
    await rm(join(src, 'cache', CACHEDIR_TAG));
    await writeFile(join(src, 'tag'), VALID);
    await symlink('../tag', join(src, 'cache', CACHEDIR_TAG));
    const linked = await backup(repo, options);
    expect(await restoredPaths(repo, linked.snapshotId!)).not.toContain('f cache/big.bin');
  });

  it('lstats nothing but the tag files of a tagged directory when it scans', async () => {
    const src = await sourceTree();
    const tags = new TagExcluder([CACHEDIR_EXCLUDE_TAG]);
    const tagged = scanDirectory(join(src, 'cache'), tags);
    expect(tagged.names).toEqual([CACHEDIR_TAG]);
    expect(tagged.tagged).toEqual([CACHEDIR_TAG]);
    expect(tagged.ok).toEqual(new Uint8Array([1]));
    const plain = scanDirectory(join(src, 'other'), tags);
    expect(plain.names).toEqual([CACHEDIR_TAG, 'f']);
    expect(plain.tagged).toBeUndefined();
  });

  it('refuses a bad tag before anything is written', async () => {
    const src = await sourceTree();
    const { repo } = await localRepo();
    await expect(
      backup(repo, { paths: [src], excludeIfPresent: ['a/b'], statCacheDir: false }),
    ).rejects.toThrow(UsageError);
    expect(await repo.snapshots.list()).toEqual([]);
  });
});
