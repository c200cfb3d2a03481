import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restore } from '../../src/ops/restore.js';
import { selectionIncludes, withoutExisting } from '../../src/tui/model/restore-plan.js';
import { Selection } from '../../src/tui/model/selection.js';
import { describeTree, tempDir } from '../helpers/fs.js';
import { buildFixture } from './fixtures.js';

describe('restore planning', () => {
  it('expands a selected directory around a deselected path, reading only what it must', async () => {
    const { repo, snaps } = await buildFixture();
    const root = snaps[2].snapshot.tree;
    const sel = Selection.of('code', { files: 5, bytes: 0 })
      .toggle('code/lib/util.ts', { files: 1, bytes: 0 })
      .toggle('docs/c.txt', { files: 1, bytes: 0 });
    const includes = await selectionIncludes(repo, root, sel);
    expect(includes.sort()).toEqual(
      ['code/lib/deep.ts', 'code/lib/new.ts', 'code/main.ts', 'docs/c.txt'].sort(),
    );
    expect(await selectionIncludes(repo, root, Selection.of('', { files: 0, bytes: 0 }))).toEqual([
      '',
    ]);
    expect(await selectionIncludes(repo, root, Selection.empty())).toEqual([]);
  });

  it('drops paths that exist in the target, opening existing directories', async () => {
    const { repo, snaps, files } = await buildFixture();
    const root = snaps[2].snapshot.tree;
    const target = await tempDir();
    await mkdir(join(target, 'docs'), { recursive: true });
    await writeFile(join(target, 'docs', 'a.txt'), 'mine');
    const kept = await withoutExisting(repo, root, ['docs', 'readme.txt'], target);
    expect(kept.includes.sort()).toEqual(['docs/c.txt', 'docs/notes.md', 'readme.txt']);
    expect(kept.skippedFiles).toBe(1);
    expect(kept.skippedBytes).toBe(files['docs/a.txt']!.length);
    // Restoring what is left completes the directory without touching the existing file.
    await restore(repo, snaps[2].id, snaps[2].snapshot, { target, include: kept.includes });
    expect(await readFile(join(target, 'docs', 'a.txt'), 'utf8')).toBe('mine');
    expect(await readFile(join(target, 'docs', 'c.txt'))).toEqual(files['docs/c.txt']);
    const root2 = await withoutExisting(repo, root, [''], target);
    expect(root2.includes).not.toContain('docs/a.txt');
    expect(root2.includes).not.toContain('docs');
    expect(root2.includes).toContain('big.dat');
    expect((await describeTree(target)).length).toBeGreaterThan(0);
  });
});
