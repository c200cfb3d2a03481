/**
 * `find` over snapshots: names and paths matched as exclude globs are (with `-i`, in
 * any case), in walk order; a subtree found to hold no match by name is not listed
 * again in a later snapshot that shares it, while path patterns, whose matches depend
 * on where a subtree is, still search it there.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import { FindPatterns, findInTree } from '../../src/ops/find.js';
import type { Repository } from '../../src/repo/repository.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

async function found(repo: Repository, tree: string, patterns: FindPatterns): Promise<string[]> {
  const out: string[] = [];
  for await (const m of findInTree(repo, tree, patterns)) out.push(m.path);
  return out;
}

async function snapshotOf(repo: Repository, src: string): Promise<string> {
  const { snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
  return snapshot.tree;
}

describe('find', () => {
  it('matches names anywhere and paths whole, in walk order', async () => {
    const src = await tempDir();
    await writeTree(src, {
      'dump.sql': 'a',
      docs: { 'guide.md': 'g', 'notes.txt': 'n', old: { 'OLD.SQL': 'o', 'x.sql': 'x' } },
      'sql.d': { 'README.md': 'r' },
    });
    const { repo } = await localRepo();
    const tree = await snapshotOf(repo, src);
    expect(await found(repo, tree, new FindPatterns(['*.sql']))).toEqual([
      'docs/old/x.sql',
      'dump.sql',
    ]);
    expect(await found(repo, tree, new FindPatterns(['*.sql'], { ignoreCase: true }))).toEqual([
      'docs/old/OLD.SQL',
      'docs/old/x.sql',
      'dump.sql',
    ]);
    // A directory matches too; several patterns are any of them.
    expect(await found(repo, tree, new FindPatterns(['sql.d', 'guide.*']))).toEqual([
      'docs/guide.md',
      'sql.d',
    ]);
    // With `/`: the path, from the snapshot root or as its last components.
    expect(await found(repo, tree, new FindPatterns(['/docs/*.md']))).toEqual(['docs/guide.md']);
    expect(await found(repo, tree, new FindPatterns(['old/*.sql']))).toEqual(['docs/old/x.sql']);
    expect(() => new FindPatterns(['[z-a]'])).toThrow(UsageError);
    // Any case, without changing the pattern: a class keeps its range, and a name whose
    // lower case is longer (İ is two characters lower-cased) still matches `?`.
    await writeTree(src, { 'Z_.txt': 'z', 'İ.txt': 'i', 'École.md': 'e' });
    const again = await snapshotOf(repo, src);
    const anyCase = (p: string) => found(repo, again, new FindPatterns([p], { ignoreCase: true }));
    expect(await anyCase('[Z-a]_.TXT')).toEqual(['Z_.txt']);
    expect(await anyCase('?.txt')).toEqual(['İ.txt']);
    expect(await anyCase('é*')).toEqual(['École.md']);
  });

  it('does not list again a subtree that held no match in an earlier snapshot', async () => {
    const src = await tempDir();
    const spec: Record<string, Record<string, string>> = {};
    for (let d = 0; d < 20; d++) {
      spec[`d${d}`] = { 'a.txt': String(d), 'b.txt': String(d) };
    }
    await writeTree(src, { ...spec, 'target.sql': 't' });
    const { repo } = await localRepo();
    const first = await snapshotOf(repo, src);
    await writeFile(join(src, 'd3', 'new.sql'), 'n');
    const second = await snapshotOf(repo, src);
    const patterns = new FindPatterns(['*.sql']);
    const listings = vi.spyOn(repo.trees, 'entries');
    expect(await found(repo, first, patterns)).toEqual(['target.sql']);
    const firstListings = listings.mock.calls.length;
    listings.mockClear();
    expect(await found(repo, second, patterns)).toEqual(['d3/new.sql', 'target.sql']);
    // The root and the changed directory: the 19 others held no match before.
    expect(firstListings).toBe(21);
    expect(listings.mock.calls.length).toBe(2);
    listings.mockRestore();
  });

  it('searches a shared subtree again for a path pattern, which depends on where it is', async () => {
    const src = await tempDir();
    await writeTree(src, { a: { sub: { 'x.conf': 'same' } } });
    const { repo } = await localRepo();
    const first = await snapshotOf(repo, src);
    await mkdir(join(src, 'b'));
    await rename(join(src, 'a', 'sub'), join(src, 'b', 'sub'));
    const second = await snapshotOf(repo, src);
    const patterns = new FindPatterns(['/b/sub/*.conf']);
    expect(await found(repo, first, patterns)).toEqual([]);
    expect(await found(repo, second, patterns)).toEqual(['b/sub/x.conf']);
  });
});
