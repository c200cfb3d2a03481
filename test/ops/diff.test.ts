import { chmod, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CountingBackend } from '../../src/backends/counting.js';
import { backup } from '../../src/ops/backup.js';
import { addToSummary, type DiffItem, diffTrees, emptyDiffSummary } from '../../src/ops/diff.js';
import { openRepositoryIn } from '../../src/repo/repository.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

async function collect(gen: AsyncIterable<DiffItem>): Promise<DiffItem[]> {
  const out: DiffItem[] = [];
  for await (const d of gen) out.push(d);
  return out;
}

describe('diff', () => {
  it('lists added, removed, modified and metadata-only changes with sizes', async () => {
    const src = await tempDir();
    await mkdir(join(src, 'same'));
    for (let i = 0; i < 5; i++) await writeFile(join(src, 'same', `f${i}`), `content ${i}`);
    await writeFile(join(src, 'mod'), pseudoRandomBytes(3000, 1));
    await writeFile(join(src, 'gone'), 'bye');
    await writeFile(join(src, 'meta'), 'meta');
    await mkdir(join(src, 'olddir'));
    await writeFile(join(src, 'olddir', 'x'), 'x');
    const { repo } = await localRepo();
    const a = await backup(repo, { paths: [src], statCacheDir: false });

    await writeFile(join(src, 'mod'), pseudoRandomBytes(3500, 2));
    await rm(join(src, 'gone'));
    await chmod(join(src, 'meta'), 0o600);
    await writeFile(join(src, 'new'), 'hello');
    await rm(join(src, 'olddir'), { recursive: true });
    await mkdir(join(src, 'newdir'));
    await writeFile(join(src, 'newdir', 'y'), 'yy');
    const b = await backup(repo, { paths: [src], statCacheDir: false });

    const items = await collect(diffTrees(repo, a.snapshot.tree, b.snapshot.tree));
    const byPath = Object.fromEntries(items.map((d) => [d.path, d]));
    expect(byPath.mod).toEqual({
      path: 'mod',
      change: 'modified',
      kind: 'file',
      sizeBefore: 3000,
      sizeAfter: 3500,
      changedBytes: 3500,
    });
    expect(byPath.gone).toEqual({ path: 'gone', change: 'removed', kind: 'file', sizeBefore: 3 });
    expect(byPath.new).toEqual({ path: 'new', change: 'added', kind: 'file', sizeAfter: 5 });
    expect(byPath.meta?.change).toBe('metadata');
    expect(byPath.olddir?.change).toBe('removed');
    expect(byPath['olddir/x']?.change).toBe('removed');
    expect(byPath['newdir/y']).toEqual({
      path: 'newdir/y',
      change: 'added',
      kind: 'file',
      sizeAfter: 2,
    });
    expect(Object.keys(byPath).some((p) => p.startsWith('same'))).toBe(false);
    const s = emptyDiffSummary();
    for (const d of items) addToSummary(s, d);
    expect(s.bytesAdded).toBe(500 + 5 + 2);
    expect(s.bytesRemoved).toBe(3 + 1);
  });

  it('walks only subtrees that differ', async () => {
    const src = await tempDir();
    for (let d = 0; d < 10; d++) {
      await mkdir(join(src, `d${d}`));
      for (let i = 0; i < 10; i++) await writeFile(join(src, `d${d}`, `f${i}`), `x${d}${i}`);
    }
    const { repo } = await localRepo();
    const a = await backup(repo, { paths: [src], statCacheDir: false });
    await writeFile(join(src, 'd7', 'f3'), 'changed');
    await utimes(join(src, 'd7'), 1_600_000_000, 1_600_000_000);
    const b = await backup(repo, { paths: [src], statCacheDir: false });
    const counting = new CountingBackend(repo.backend);
    const fresh = await openRepositoryIn(counting);
    counting.reset();
    const items = await collect(diffTrees(fresh, a.snapshot.tree, b.snapshot.tree));
    expect(items.map((d) => `${d.change} ${d.path}`)).toEqual(['metadata d7', 'modified d7/f3']);
    // two roots + two versions of d7 = 4 tree reads, not 22
    expect(counting.counts.get).toBe(4);
  });
});
