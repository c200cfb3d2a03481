/**
 * `cairn ls` and `cairn diff` on snapshots thousands of directories deep: the walks keep
 * an explicit stack, so they no longer overflow V8's call stack (they did a little under
 * 3,000 levels down).
 */
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import type { ObjectId } from '../../src/core/ids.js';
import { initRepository, type Repository } from '../../src/repo/repository.js';
import { cli } from '../helpers/cli.js';
import { dirEntry, fileEntry, sampleSnapshot } from '../helpers/entries.js';
import { tempDir } from '../helpers/fs.js';
import { TINY_CHUNKS } from '../helpers/repo.js';

const DEPTH = 4000;
const text = (s: string) => new TextEncoder().encode(s);

/**
 * `d/d/.../d` (DEPTH directories) holding `leaf` with content `content`. Each directory
 * is written without waiting for the one below it to be stored (as a backup does).
 */
async function deepTree(repo: Repository, content: string): Promise<ObjectId> {
  let below = { tree: '', stored: Promise.resolve() };
  for (let level = DEPTH; level >= 0; level--) {
    const w = repo.directoryWriter();
    if (level === DEPTH) await w.add(fileEntry('leaf', 0, text(content)));
    else {
      const e = dirEntry('d', below.tree, 1, content.length);
      await w.add(e, below.stored);
    }
    below = await w.finishDeferred();
  }
  await below.stored;
  return below.tree;
}

const deepPath = (n: number) => Array.from({ length: n }, () => 'd').join('/');

describe('ls and diff of a very deep snapshot', () => {
  it('list every entry and the difference, 4,000 directories down', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const dir = await tempDir('cairn-repo-');
    // Thousands of tree objects: not fsynced one by one (this is not a durability test).
    const repo = await initRepository(new LocalBackend(dir, { fsync: false }), {
      chunker: TINY_CHUNKS,
    });
    const save = async (content: string, tag: string, time: string) =>
      repo.snapshots.save({
        ...sampleSnapshot(await deepTree(repo, content)),
        tags: [tag],
        time,
      });
    const a = await save('leaf\n', 'a', '2026-01-01T00:00:00.000Z');
    const b = await save('leaf 2\n', 'b', '2026-01-02T00:00:00.000Z');
    await repo.close();

    const ls = await cli('--repo', dir, 'ls', 'latest');
    expect(ls.stderr).toBe('');
    expect(ls.code).toBe(0);
    const expected: string[] = [];
    for (let i = 1; i <= DEPTH; i++) expected.push(`${deepPath(i)}/`);
    expected.push(`${deepPath(DEPTH)}/leaf`);
    expect(ls.stdout).toBe(`${expected.join('\n')}\n`);

    // Below a path, and as JSON.
    const sub = await cli('--repo', dir, '--json', 'ls', 'tag:a', deepPath(DEPTH - 1));
    expect(sub.code).toBe(0);
    expect(sub.json.map((e) => e.path ?? e.type)).toEqual([
      deepPath(DEPTH - 1),
      deepPath(DEPTH),
      `${deepPath(DEPTH)}/leaf`,
      'summary',
    ]);
    expect(sub.json.at(-1)).toMatchObject({ operation: 'ls', entries: 3 });

    const diff = await cli('--repo', dir, '--json', 'diff', a, b);
    expect(diff.stderr).toBe('');
    expect(diff.code).toBe(0);
    const changes = diff.json.filter((e) => e.type !== 'summary');
    expect(changes).toEqual([
      expect.objectContaining({
        path: `${deepPath(DEPTH)}/leaf`,
        change: 'modified',
        kind: 'file',
        sizeBefore: 5,
        sizeAfter: 7,
      }),
    ]);
    expect(diff.json.at(-1)).toMatchObject({ type: 'summary', modified: 1, added: 0 });
  });
});
