import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAN_HOP, DirRef, withFsPath, withFsPathSync } from '../../src/core/deep-path.js';
import { fsPath, nameToBytes } from '../../src/core/fs-names.js';
import { tempDir } from '../helpers/fs.js';

/** Removes the deep tree under `root` (Node's recursive rm cannot; the temp-dir cleanup follows). */
function removeDeep(root: string): void {
  execFileSync('rm', ['-rf', root]);
}

const openFds = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);

/** Builds `depth` nested directories named `component` below `root` (however long). */
function nest(root: string, component: string, depth: number): string {
  let path = root;
  for (let i = 0; i < depth; i++) {
    withFsPathSync(join(path, component), (at) => mkdirSync(at));
    path = join(path, component);
  }
  return path;
}

describe.skipIf(!CAN_HOP)('paths longer than PATH_MAX', () => {
  it('creates, reads and lists through hops, and closes every descriptor', async () => {
    const root = await tempDir();
    try {
      await deepFiles(root);
    } finally {
      removeDeep(root);
    }
  });

  async function deepFiles(root: string): Promise<void> {
    const fdsBefore = openFds();
    const deep = nest(root, 'd'.repeat(250), 40); // about 10 KB
    expect(nameToBytes(deep).length).toBeGreaterThan(10_000);
    const file = join(deep, 'leaf\udcff');
    withFsPathSync(file, (at) => writeFileSync(at, 'deep'));
    expect(withFsPathSync(file, (at) => readFileSync(at, 'utf8'))).toBe('deep');
    expect(await withFsPath(file, async (at) => lstatSync(at).size)).toBe(4);
    // Plain path calls cannot reach it.
    expect(() => lstatSync(fsPath(file))).toThrow(/ENAMETOOLONG/);
    const dir = DirRef.open(deep);
    try {
      expect(readdirSync(dir.at, { encoding: 'buffer' })).toEqual([
        Buffer.concat([Buffer.from('leaf'), Buffer.of(0xff)]),
      ]);
      expect(readFileSync(dir.child('leaf\udcff'), 'utf8')).toBe('deep');
      mkdirSync(dir.child('new'));
      const sub = dir.sub('new');
      writeFileSync(sub.child('x'), 'below');
      expect(withFsPathSync(join(deep, 'new', 'x'), (at) => readFileSync(at, 'utf8'))).toBe(
        'below',
      );
      sub.close();
    } catch (err) {
      dir.close();
      throw err;
    }
    dir.close();
    expect(openFds()).toBe(fdsBefore);
  }

  it('a subdirectory reached from its parent refuses a symlink unless told to follow', async () => {
    const root = await tempDir();
    try {
      symlinkRefused(root);
    } finally {
      removeDeep(root);
    }
  });

  function symlinkRefused(root: string): void {
    const deep = nest(root, 'e'.repeat(250), 12);
    withFsPathSync(join(deep, 'real'), (at) => mkdirSync(at));
    withFsPathSync(join(deep, 'link'), (at) => symlinkSync('real', at));
    const dir = DirRef.open(deep);
    try {
      expect(() => dir.sub('link')).toThrow(/ELOOP|ENOTDIR/);
      dir.sub('link', true).close();
    } finally {
      dir.close();
    }
  }
});
