/**
 * `backup({ filesFrom })`: only the listed paths (a directory with everything below it)
 * and the directories leading to them are backed up; the filters still apply; without
 * PATHs the deepest directory holding every listed path is backed up; a listed path
 * that is not found is a warning; paths outside the PATHs are refused.
 */
import { chmod, symlink } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import type { BackupEvent } from '../../src/ops/events.js';
import { absolutePath, PathSelection } from '../../src/ops/path-selection.js';
import { walkTree } from '../../src/ops/walk.js';
import type { Repository } from '../../src/repo/repository.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { memoryRepo } from '../helpers/repo.js';

async function pathsOf(repo: Repository, tree: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { path } of walkTree(repo, tree)) out.push(path);
  return out.sort();
}

const SOURCE = {
  src: { 'a.ts': 'a', 'b.ts': 'b', lib: { 'c.ts': 'c', 'd.log': 'd' } },
  docs: { 'guide.md': 'g', 'old.md': 'o' },
  'README.md': 'r',
  build: { 'out.js': 'o' },
};

describe('backup limited to listed paths', () => {
  it('keeps the listed files and directories and what leads to them', async () => {
    const root = await tempDir();
    await writeTree(root, SOURCE);
    const repo = await memoryRepo();
    const r = await backup(repo, {
      paths: [root],
      statCacheDir: false,
      filesFrom: [
        join(root, 'src', 'lib'),
        join(root, 'docs', 'guide.md'),
        join(root, 'README.md'),
      ],
      excludes: ['*.log'],
    });
    expect(await pathsOf(repo, r.snapshot.tree)).toEqual([
      'README.md',
      'docs',
      'docs/guide.md',
      'src',
      'src/lib',
      'src/lib/c.ts',
    ]);
    expect(r.snapshot.summary).toMatchObject({ files: 3, errors: 0 });
    expect(r.snapshot.paths).toEqual([root]);
  });

  it('takes relative paths from the working directory, and the common directory without PATHs', async () => {
    const root = await tempDir();
    await writeTree(root, SOURCE);
    const repo = await memoryRepo();
    const cwd = process.cwd();
    const rel = (p: string) => join(relative(cwd, root), p);
    const r = await backup(repo, {
      paths: [],
      statCacheDir: false,
      filesFrom: [rel('src/a.ts'), rel('src/lib/c.ts')],
    });
    expect(r.snapshot.paths).toEqual([join(root, 'src')]);
    expect(await pathsOf(repo, r.snapshot.tree)).toEqual(['a.ts', 'lib', 'lib/c.ts']);
  });

  it('warns of listed paths it did not find, and backs up the rest', async () => {
    const root = await tempDir();
    await writeTree(root, SOURCE);
    await symlink(join(root, 'src'), join(root, 'via-link'));
    const repo = await memoryRepo();
    const events: BackupEvent[] = [];
    const missing = [join(root, 'src', 'gone.ts'), join(root, 'via-link', 'a.ts')];
    const r = await backup(repo, {
      paths: [root],
      statCacheDir: false,
      filesFrom: [join(root, 'src', 'a.ts'), ...missing],
      onEvent: (e) => events.push(e),
    });
    const warned = events.flatMap((e) => (e.type === 'warning' ? [e.path] : []));
    expect(warned).toEqual(missing);
    expect(r.snapshot.summary.errors).toBe(2);
    // The link itself leads to a listed path: it is kept, as a link.
    expect(await pathsOf(repo, r.snapshot.tree)).toEqual(['src', 'src/a.ts', 'via-link']);
  });

  // root lists every directory: the case cannot be made there.
  it.skipIf(process.getuid?.() === 0)(
    "a listed path under a directory it cannot list is that directory's warning only",
    async () => {
      const root = await tempDir();
      await writeTree(root, SOURCE);
      await chmod(join(root, 'src', 'lib'), 0o000);
      const repo = await memoryRepo();
      const events: BackupEvent[] = [];
      try {
        await backup(repo, {
          paths: [root],
          statCacheDir: false,
          filesFrom: [join(root, 'src', 'lib', 'c.ts')],
          onEvent: (e) => events.push(e),
        });
      } finally {
        await chmod(join(root, 'src', 'lib'), 0o755);
      }
      const warned = events.flatMap((e) => (e.type === 'warning' ? [e.path] : []));
      expect(warned).toEqual([join(root, 'src', 'lib')]);
    },
  );

  it('refuses a listed path outside every PATH, and a PATH holding none', async () => {
    const root = await tempDir();
    await writeTree(root, SOURCE);
    const repo = await memoryRepo();
    await expect(
      backup(repo, {
        paths: [join(root, 'src')],
        statCacheDir: false,
        filesFrom: [join(root, 'docs', 'guide.md')],
      }),
    ).rejects.toThrow(/guide\.md .*is not inside any PATH/);
    await expect(
      backup(repo, {
        paths: [join(root, 'src'), join(root, 'docs')],
        statCacheDir: false,
        filesFrom: [join(root, 'docs', 'guide.md')],
      }),
    ).rejects.toThrow(UsageError);
    expect(await repo.snapshots.ids()).toEqual([]);
  });

  it('a second backup with another list reuses what did not change', async () => {
    const root = await tempDir();
    await writeTree(root, SOURCE);
    const repo = await memoryRepo();
    const statCacheDir = await tempDir();
    const first = await backup(repo, { paths: [root], statCacheDir });
    const limited = await backup(repo, {
      paths: [root],
      statCacheDir,
      filesFrom: [join(root, 'docs')],
    });
    expect(await pathsOf(repo, limited.snapshot.tree)).toEqual([
      'docs',
      'docs/guide.md',
      'docs/old.md',
    ]);
    // The same directory, whole, in both: one tree.
    const docsOf = async (tree: string) => (await repo.trees.lookup(tree, 'docs'))!;
    expect(await docsOf(limited.snapshot.tree)).toEqual(await docsOf(first.snapshot.tree));
    const again = await backup(repo, { paths: [root], statCacheDir });
    expect(again.snapshot.tree).toBe(first.snapshot.tree);
  });
});

describe('backup limited to listed paths: what the second review found', () => {
  it('a listed path the filters leave out is not missing', async () => {
    const root = await tempDir();
    await writeTree(root, SOURCE);
    const repo = await memoryRepo();
    const events: BackupEvent[] = [];
    const r = await backup(repo, {
      paths: [root],
      statCacheDir: false,
      filesFrom: [join(root, 'build', 'out.js'), join(root, 'README.md')],
      excludes: ['build'],
      onEvent: (e) => events.push(e),
    });
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
    expect(r.snapshot.summary.errors).toBe(0);
    expect(await pathsOf(repo, r.snapshot.tree)).toEqual(['README.md']);
  });

  it('a narrowed backup leaves the stat cache of the full one as it was', async () => {
    const root = await tempDir();
    await writeTree(root, SOURCE);
    const repo = await memoryRepo();
    const statCacheDir = await tempDir();
    // Files changed in the last 100 ms are not trusted to the cache (source-stat.ts).
    await new Promise((resolve) => setTimeout(resolve, 250));
    await backup(repo, { paths: [root], statCacheDir });
    await backup(repo, { paths: [root], statCacheDir, filesFrom: [join(root, 'src', 'a.ts')] });
    const full = await backup(repo, { paths: [root], statCacheDir });
    expect(full.bytesRead).toBe(0);
    expect(full.snapshot.summary).toMatchObject({ filesNew: 0, filesChanged: 0 });
    // And the narrowed one, run again, reads nothing either.
    const options = { paths: [root], statCacheDir, filesFrom: [join(root, 'src', 'a.ts')] };
    await backup(repo, options);
    expect((await backup(repo, options)).bytesRead).toBe(0);
  });

  it('a listed directory above several PATHs holds each of them', async () => {
    const root = await tempDir();
    await writeTree(root, SOURCE);
    const repo = await memoryRepo();
    const r = await backup(repo, {
      paths: [join(root, 'src'), join(root, 'docs')],
      statCacheDir: false,
      filesFrom: [root],
    });
    expect(r.snapshot.summary.files).toBe(6);
  });

  it('without PATH: the working directory when it holds the list, a linked directory followed', async () => {
    const repo = await memoryRepo();
    const here = await backup(repo, {
      paths: [],
      statCacheDir: false,
      filesFrom: ['README.md', 'docs/cli.md'],
      dryRun: true,
    });
    expect(here.snapshot.paths).toEqual([process.cwd()]);
    // Written as absolute paths, the list's own directory: a job started in / or in $HOME
    // does not give every list that one root.
    const absolute = await backup(repo, {
      paths: [],
      statCacheDir: false,
      filesFrom: [join(process.cwd(), 'docs', 'cli.md'), join(process.cwd(), 'docs', 'format.md')],
      dryRun: true,
    });
    expect(absolute.snapshot.paths).toEqual([join(process.cwd(), 'docs')]);
    const root = await tempDir();
    await writeTree(root, SOURCE);
    await symlink(join(root, 'src'), join(root, 'link'));
    const linked = await backup(repo, {
      paths: [],
      statCacheDir: false,
      filesFrom: [join(root, 'link', 'a.ts'), join(root, 'link', 'lib', 'c.ts')],
    });
    expect(linked.snapshot.paths).toEqual([`${join(root, 'link')}/`]);
    expect(linked.snapshot.summary.errors).toBe(0);
    expect(await pathsOf(repo, linked.snapshot.tree)).toEqual(['a.ts', 'lib', 'lib/c.ts']);
  });
});

describe('PathSelection', () => {
  it('absolutePath is resolve, with less work for paths already normalized', () => {
    for (const p of [
      '/',
      '/a',
      '/a/',
      '/a//b',
      '/a/./b',
      '/a/../b',
      '/a/.hidden',
      '/a/..x',
      '/a/...',
      '/.',
      '/..',
      'rel',
      './x',
      '../y',
      '/a/b/.',
      '/a/b/..',
      '//x',
    ]) {
      expect(absolutePath(p), p).toBe(resolve(p));
    }
  });

  it('covers below listed directories, keeps what leads to them, finds the common directory', () => {
    const s = new PathSelection(['/a/b/c', '/a/d', '/e']);
    expect(s.covers('/a/b/c')).toBe(true);
    expect(s.covers('/a/b/c/x/y')).toBe(true);
    expect(s.covers('/a/b')).toBe(false);
    expect(s.keeps('/a/b')).toBe(true);
    expect(s.keeps('/a/x')).toBe(false);
    expect(s.commonDirectory()).toBe('/');
    expect(new PathSelection(['/a/b/c', '/a/b/d/e']).commonDirectory()).toBe('/a/b');
    expect(new PathSelection(['/a/b']).commonDirectory()).toBe('/a');
    s.noteFound('/a/d');
    expect(s.missing()).toEqual(['/a/b/c', '/e']);
  });
});
