/**
 * Walks of snapshot trees thousands of directories deep (`ls`, `diff`): they keep an
 * explicit stack, so depth costs no call stack (nested generators overflowed V8's stack
 * a little under 3,000 levels down).
 */
import { describe, expect, it } from 'vitest';
import type { ObjectId } from '../../src/core/ids.js';
import type { Entry } from '../../src/manifest/types.js';
import { type DiffItem, diffTrees } from '../../src/ops/diff.js';
import { walkTree } from '../../src/ops/walk.js';
import type { Repository } from '../../src/repo/repository.js';
import { fileEntry } from '../helpers/entries.js';
import { memoryRepo } from '../helpers/repo.js';

/** Deeper than any recursive walk survived. */
const DEPTH = 4000;

const dir = (name: string, tree: ObjectId, files: number, bytes: number, mtime = 1): Entry => ({
  kind: 'dir',
  name,
  mode: 0o755,
  uid: 1,
  gid: 1,
  mtime: { sec: mtime, nsec: 0 },
  tree,
  files,
  bytes,
});

async function writeDir(repo: Repository, entries: Entry[]): Promise<ObjectId> {
  const w = repo.directoryWriter();
  for (const e of entries) await w.add(e);
  return (await w.finish()).tree;
}

/**
 * A chain `d/d/.../d` of `depth` directories whose last one holds `bottom`; the root
 * also holds `top`. `mtimeAt`: the level (1 = the root's `d`) whose mtime is 2, not 1.
 */
async function chain(
  repo: Repository,
  depth: number,
  bottom: Entry[],
  top: Entry[] = [],
  mtimeAt = -1,
): Promise<ObjectId> {
  let tree = await writeDir(repo, bottom);
  for (let level = depth; level >= 1; level--) {
    const entries = [dir('d', tree, bottom.length, 0, level === mtimeAt ? 2 : 1)];
    tree = await writeDir(repo, level === 1 ? [...top, ...entries] : entries);
  }
  return tree;
}

/** `d/d/...` with `n` names. */
const deepPath = (n: number) => Array.from({ length: n }, () => 'd').join('/');

const text = (s: string) => new TextEncoder().encode(s);

describe('walks of very deep trees', () => {
  it('walkTree lists a tree 4,000 directories deep, in order', async () => {
    const repo = await memoryRepo();
    const root = await chain(
      repo,
      DEPTH,
      [fileEntry('leaf', 0, text('leaf\n'))],
      [fileEntry('a', 0, text('a'))],
    );
    const paths: string[] = [];
    for await (const x of walkTree(repo, root, 'top')) paths.push(x.path);
    const expected = ['top/a'];
    for (let i = 1; i <= DEPTH; i++) expected.push(`top/${deepPath(i)}`);
    expected.push(`top/${deepPath(DEPTH)}/leaf`);
    expect(paths).toEqual(expected);
  });

  it('walkTree stops reading when its consumer stops', async () => {
    const repo = await memoryRepo();
    const root = await chain(repo, 50, [fileEntry('leaf', 0, text('x'))]);
    const paths: string[] = [];
    for await (const x of walkTree(repo, root)) {
      paths.push(x.path);
      if (paths.length === 3) break;
    }
    expect(paths).toEqual(['d', 'd/d', 'd/d/d']);
  });

  it('diffTrees compares trees 4,000 directories deep', async () => {
    const repo = await memoryRepo();
    const before = await chain(repo, DEPTH, [
      fileEntry('gone', 0, text('bye')),
      fileEntry('leaf', 0, text('leaf\n')),
      fileEntry('x', 0, text('x')),
    ]);
    const after = await chain(
      repo,
      DEPTH,
      [
        fileEntry('leaf', 0, text('leaf 2\n')),
        fileEntry('new', 0, text('hello')),
        // a file became a directory: removed, then added with what it holds
        dir('x', await writeDir(repo, [fileEntry('y', 0, text('yy'))]), 1, 2),
      ],
      [],
      3000,
    );
    const items: DiffItem[] = [];
    for await (const d of diffTrees(repo, before, after)) items.push(d);
    const bottom = deepPath(DEPTH);
    expect(items).toEqual([
      { path: deepPath(3000), change: 'metadata', kind: 'dir', sizeBefore: 0, sizeAfter: 0 },
      { path: `${bottom}/gone`, change: 'removed', kind: 'file', sizeBefore: 3 },
      {
        path: `${bottom}/leaf`,
        change: 'modified',
        kind: 'file',
        sizeBefore: 5,
        sizeAfter: 7,
        changedBytes: 7,
      },
      { path: `${bottom}/new`, change: 'added', kind: 'file', sizeAfter: 5 },
      { path: `${bottom}/x`, change: 'removed', kind: 'file', sizeBefore: 1 },
      { path: `${bottom}/x`, change: 'added', kind: 'dir', sizeAfter: 2 },
      { path: `${bottom}/x/y`, change: 'added', kind: 'file', sizeAfter: 2 },
    ]);
  });

  it('diffTrees reports a whole deep directory added or removed', async () => {
    const repo = await memoryRepo();
    const deep = await chain(repo, DEPTH, [fileEntry('leaf', 0, text('leaf\n'))]);
    const empty = await writeDir(repo, []);
    const withDeep = await writeDir(repo, [dir('top', deep, 1, 5)]);
    const collect = async (a: ObjectId, b: ObjectId) => {
      const out: string[] = [];
      for await (const d of diffTrees(repo, a, b)) out.push(`${d.change} ${d.kind} ${d.path}`);
      return out;
    };
    const listing = ['dir top'];
    for (let i = 1; i <= DEPTH; i++) listing.push(`dir top/${deepPath(i)}`);
    listing.push(`file top/${deepPath(DEPTH)}/leaf`);
    expect(await collect(empty, withDeep)).toEqual(listing.map((l) => `added ${l}`));
    expect(await collect(withDeep, empty)).toEqual(listing.map((l) => `removed ${l}`));
  });
});
