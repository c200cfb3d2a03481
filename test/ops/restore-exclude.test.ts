/**
 * `restore({ exclude })`: what the patterns match (names anywhere, paths as in the
 * snapshot) is not restored, in new directories, through the worker pool's batches of
 * small files, and over an existing tree, where `delete` leaves it in place; patterns
 * apply below included paths; progress totals leave it out; a bad pattern writes
 * nothing.
 */
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import type { RestoreEvent } from '../../src/ops/events.js';
import { restore } from '../../src/ops/restore.js';
import { describeTree, tempDir, writeTree } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

async function snapshotOf(spec: Parameters<typeof writeTree>[1]) {
  const src = await tempDir();
  await writeTree(src, spec);
  const { repo } = await localRepo({ inlineMax: 64 });
  const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
  return { repo, src, id: snapshotId!, snapshot };
}

/** Paths of a tree, as describeTree gives them (kind and path only). */
async function pathsIn(dir: string): Promise<string[]> {
  return (await describeTree(dir)).map((l) => l.split(' ').slice(0, 2).join(' '));
}

describe('restore with exclude patterns', () => {
  it('leaves out names anywhere and paths from the snapshot root', async () => {
    const { repo, id, snapshot } = await snapshotOf({
      'keep.txt': 'k',
      'big.log': 'l'.repeat(5000),
      app: { 'main.js': 'm'.repeat(3000), 'x.log': 'x', cache: { 'c.bin': 'c'.repeat(2000) } },
      cache: { 'kept.bin': 'k' },
    });
    const target = join(await tempDir(), 'out');
    const events: RestoreEvent[] = [];
    const s = await restore(repo, id, snapshot, {
      target,
      exclude: ['*.log', '/app/cache'],
      onEvent: (e) => events.push(e),
    });
    expect(await pathsIn(target)).toEqual([
      'f app/main.js',
      'd app',
      'f cache/kept.bin',
      'd cache',
      'f keep.txt',
    ]);
    expect(s).toMatchObject({ excluded: 3, files: 3, errors: 0 });
    const last = events.filter((e) => e.type === 'progress').at(-1);
    expect(last).toMatchObject({ files: 3, totalFiles: 3, totalBytes: s.bytes });
  });

  it('leaves out small files the worker pool writes in batches', async () => {
    const spec: Record<string, string> = {};
    for (let i = 0; i < 1200; i++)
      spec[`f${String(i).padStart(4, '0')}.${i % 3 ? 'txt' : 'tmp'}`] = `${i}`;
    const { repo, id, snapshot } = await snapshotOf({ d: spec });
    const target = await tempDir();
    const s = await restore(repo, id, snapshot, { target, exclude: ['*.tmp'], workers: 2 });
    const names = await readdir(join(target, 'd'));
    expect(names).toHaveLength(800);
    expect(names.some((n) => n.endsWith('.tmp'))).toBe(false);
    expect(s.excluded).toBe(400);
  });

  it('over an existing tree, neither writes nor deletes what is excluded', async () => {
    const { repo, id, snapshot } = await snapshotOf({
      'a.txt': 'snapshot a',
      conf: { 'local.conf': 'from the snapshot', 'b.txt': 'b' },
    });
    const target = await tempDir();
    await writeTree(target, {
      'a.txt': 'edited a',
      'extra.txt': 'not in the snapshot',
      conf: { 'local.conf': 'edited locally', 'mine.conf': 'only here' },
    });
    const s = await restore(repo, id, snapshot, {
      target,
      delete: true,
      exclude: ['*.conf'],
    });
    expect(await readFile(join(target, 'a.txt'), 'utf8')).toBe('snapshot a');
    expect(await readFile(join(target, 'conf', 'local.conf'), 'utf8')).toBe('edited locally');
    // Not in the snapshot, but excluded: --delete leaves it as rsync leaves excluded files.
    expect(await readFile(join(target, 'conf', 'mine.conf'), 'utf8')).toBe('only here');
    await expect(stat(join(target, 'extra.txt'))).rejects.toThrow(/ENOENT/);
    expect(s).toMatchObject({ excluded: 1, deleted: 1 });
  });

  it('with delete, keeps what the patterns match inside extras and in the way, as rsync', async () => {
    const { repo, id, snapshot } = await snapshotOf({
      app: { 'main.js': 'm' },
      etc: 'a file in the snapshot, a directory in the target',
    });
    const target = await tempDir();
    await writeTree(target, {
      local: { 'site.conf': 'mine', 'junk.txt': 'j', deep: { 'd.conf': 'kept', 'x.txt': 'x' } },
      gone: { 'a.txt': 'a', sub: { 'b.txt': 'b' } },
      etc: { 'db.conf': 'mine too', 'old.txt': 'o' },
    });
    const events: RestoreEvent[] = [];
    const s = await restore(repo, id, snapshot, {
      target,
      delete: true,
      exclude: ['*.conf'],
      onEvent: (e) => events.push(e),
    });
    expect(await pathsIn(target)).toEqual([
      'f app/main.js',
      'd app',
      'f etc/db.conf',
      'd etc',
      'f local/deep/d.conf',
      'd local/deep',
      'f local/site.conf',
      'd local',
    ]);
    expect(await readFile(join(target, 'local', 'site.conf'), 'utf8')).toBe('mine');
    const deleted = events.flatMap((e) => (e.type === 'delete' ? [e.path] : [])).sort();
    expect(deleted).toEqual(
      ['etc/old.txt', 'gone', 'local/deep/x.txt', 'local/junk.txt'].map((p) => join(target, p)),
    );
    // The kept directory is said; the file the snapshot has at etc is not restored.
    const notices = events.flatMap((e) => (e.type === 'notice' ? [e.path] : []));
    expect(notices).toEqual([join(target, 'local')]);
    const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.path] : []));
    expect(warnings).toEqual([join(target, 'etc')]);
    expect(s).toMatchObject({ deleted: 4, errors: 1 });
  });

  it.skipIf(process.getuid?.() === 0)(
    'with delete, keeps an extra directory it cannot list, which might hold a match',
    async () => {
      const { repo, id, snapshot } = await snapshotOf({ 'a.txt': 'a' });
      const target = await tempDir();
      await writeTree(target, { locked: { 'x.conf': 'mine' }, open: { 'y.txt': 'y' } });
      await chmod(join(target, 'locked'), 0o000);
      const events: RestoreEvent[] = [];
      try {
        const s = await restore(repo, id, snapshot, {
          target,
          delete: true,
          exclude: ['*.conf'],
          onEvent: (e) => events.push(e),
        });
        expect(s).toMatchObject({ deleted: 1, errors: 1 });
      } finally {
        await chmod(join(target, 'locked'), 0o700);
      }
      expect(await readFile(join(target, 'locked', 'x.conf'), 'utf8')).toBe('mine');
      const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.path] : []));
      expect(warnings).toEqual([join(target, 'locked')]);
      await expect(stat(join(target, 'open'))).rejects.toThrow(/ENOENT/);
    },
  );

  it('with delete, keeps a match at the bottom of a deep extra chain, and removes the rest', async () => {
    const { repo, id, snapshot } = await snapshotOf({ 'a.txt': 'a' });
    const target = await tempDir();
    const parts = Array.from({ length: 300 }, (_, i) => `level-${i}`);
    const deepest = join(target, ...parts);
    await mkdir(deepest, { recursive: true });
    await writeFile(join(deepest, 'k.conf'), 'kept');
    await writeFile(join(deepest, 'junk.txt'), 'junk');
    await writeFile(join(target, parts[0]!, 'side.txt'), 'side');
    const events: RestoreEvent[] = [];
    await restore(repo, id, snapshot, {
      target,
      delete: true,
      exclude: ['*.conf'],
      onEvent: (e) => events.push(e),
    });
    expect(await readFile(join(deepest, 'k.conf'), 'utf8')).toBe('kept');
    const deleted = events.flatMap((e) => (e.type === 'delete' ? [e.path] : [])).sort();
    expect(deleted).toEqual(
      [join(deepest, 'junk.txt'), join(target, parts[0]!, 'side.txt')].sort(),
    );
  });

  it('with delete, removes what an interrupted restore left, whatever the patterns match', async () => {
    const { repo, id, snapshot } = await snapshotOf({ 'a.txt': 'a' });
    const target = await tempDir();
    await restore(repo, id, snapshot, { target });
    const leftover = join(target, '.cairn-tmp-0123456789abcdef');
    await writeTree(target, { '.cairn-tmp-0123456789abcdef': 'half a file' });
    await restore(repo, id, snapshot, { target, delete: true, exclude: ['.*'] });
    await expect(stat(leftover)).rejects.toThrow(/ENOENT/);
  });

  it('matches path patterns whatever the spelling of the target', async () => {
    const { repo, id, snapshot } = await snapshotOf({
      app: { cache: { 'c.bin': 'c' }, deep: { cache: { 'd.bin': 'd' } } },
    });
    const base = await tempDir();
    for (const spelled of ['out1', 'out2/', './out3/.', 'x/../out4']) {
      const target = `${relative(process.cwd(), base)}/${spelled}`;
      await restore(repo, id, snapshot, { target, exclude: ['/app/cache'] });
      expect(await pathsIn(join(base, spelled))).toEqual([
        'f app/deep/cache/d.bin',
        'd app/deep/cache',
        'd app/deep',
        'd app',
      ]);
    }
  });

  it('applies below included paths, not to them', async () => {
    const { repo, id, snapshot } = await snapshotOf({
      logs: { 'a.log': 'a', 'b.txt': 'b', old: { 'c.log': 'c' } },
      'top.log': 't',
    });
    const target = await tempDir();
    await restore(repo, id, snapshot, {
      target,
      include: ['logs/a.log', 'logs/old'],
      exclude: ['*.log'],
    });
    expect(await pathsIn(target)).toEqual(['f logs/a.log', 'd logs/old', 'd logs']);
  });

  it('refuses a bad pattern before writing anything', async () => {
    const { repo, id, snapshot } = await snapshotOf({ 'a.txt': 'a' });
    const target = join(await tempDir(), 'never-made');
    await expect(restore(repo, id, snapshot, { target, exclude: ['[z-a]'] })).rejects.toThrow(
      UsageError,
    );
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });
});
