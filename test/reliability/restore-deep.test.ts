/**
 * Restoring a chain of directories thousands of levels deep (far past PATH_MAX) with the
 * built CLI: the tree comes back complete, and each level is reached from its parent's
 * open directory, not by its whole path from the target. Opening a directory by a path
 * over 2 KB goes through /proc/self/fd in hops, one per 4 KB of path, several times per
 * level: time and memory grew in the square of the depth. Here the whole restore makes
 * fewer `open` calls than there are levels, and holds few descriptors at once. So does
 * a second restore over the tree then in place (every directory there already), which
 * before reached each one by its whole path: 10,287 opens for 3,000 levels.
 * Linux only (paths past PATH_MAX need /proc/self/fd, see src/core/deep-path.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cairnBinary } from '../helpers/compiled.js';
import { tempDir } from '../helpers/fs.js';
import { BASE_ENV, UNENCRYPTED_ENV } from '../helpers/reliability.js';

const BIN = cairnBinary();
const DEPTH = 3000;
const linux = process.platform === 'linux' && existsSync('/proc/self/fd');

/**
 * Loaded with `node -r` into the restore: counts `fs.openSync` calls (DirRef opens
 * directories with it) and the most descriptors they held at once, and writes both out
 * when the process exits. ES modules see the patched functions after
 * `syncBuiltinESMExports`.
 */
const COUNTER = `
const fs = require('node:fs');
const { isMainThread } = require('node:worker_threads');
if (isMainThread) {
  const open = fs.openSync;
  const close = fs.closeSync;
  const held = new Set();
  let opens = 0;
  let peak = 0;
  fs.openSync = function (...args) {
    const fd = open.apply(this, args);
    opens++;
    held.add(fd);
    if (held.size > peak) peak = held.size;
    return fd;
  };
  fs.closeSync = function (fd) {
    held.delete(fd);
    return close.call(this, fd);
  };
  require('node:module').syncBuiltinESMExports();
  process.on('exit', () => {
    fs.writeFileSync(process.env.COUNT_OUT, JSON.stringify({ opens, peak, left: held.size }));
  });
}
`;

/**
 * Walks `root` down through `d` with relative steps (no absolute path this long can be
 * used) and prints each level: its names, mode and mtime, and its files' content and link
 * counts.
 */
const WALK = `
const fs = require('node:fs');
process.chdir(process.argv[1]);
const levels = [];
for (;;) {
  const names = fs.readdirSync('.').sort();
  const st = fs.statSync('.');
  const files = {};
  for (const n of names)
    if (n !== 'd') files[n] = { text: fs.readFileSync(n, 'utf8'), links: fs.statSync(n).nlink };
  levels.push({ names, mode: st.mode & 0o7777, mtime: st.mtimeMs, files });
  if (!names.includes('d')) break;
  process.chdir('d');
}
process.stdout.write(JSON.stringify(levels));
`;

/**
 * Makes `root/d/d/.../d` (DEPTH levels), a file every 100 levels, modes that vary, and
 * `leaf` at the bottom with two hard links: `leaf2` beside it, `up` 100 levels above.
 */
const MAKE = `
const fs = require('node:fs');
process.chdir(process.argv[1]);
const depth = Number(process.argv[2]);
for (let i = 1; i <= depth; i++) {
  fs.mkdirSync('d', { mode: i % 3 === 0 ? 0o750 : 0o755 });
  process.chdir('d');
  if (i % 100 === 0) fs.writeFileSync('f' + i, 'level ' + i + '\\n');
}
fs.writeFileSync('leaf', 'leaf\\n');
fs.linkSync('leaf', 'leaf2');
// Times set bottom up, so creating a child does not change them afterwards.
for (let i = depth; i >= 1; i--) {
  if (i === depth - 100) fs.linkSync('d/'.repeat(100) + 'leaf', 'up');
  fs.utimesSync('.', 1700000000 + i, 1700000000 + i);
  process.chdir('..');
}
`;

/** At the bottom of the restored chain: `leaf` rewritten, `extra` added. */
const SPOIL = `
const fs = require('node:fs');
process.chdir(process.argv[1]);
for (let i = 1; i <= Number(process.argv[2]); i++) process.chdir('d');
const t = fs.statSync('leaf').mtime;
fs.writeFileSync('leaf', 'LEAF\\n');
fs.utimesSync('leaf', t, t);
fs.writeFileSync('extra', 'extra\\n');
`;

function walk(root: string): Array<Record<string, unknown>> {
  return JSON.parse(
    execFileSync(process.execPath, ['-e', WALK, root], { maxBuffer: 64 << 20 }).toString(),
  );
}

function cairn(args: string[], extraNode: string[] = [], env: NodeJS.ProcessEnv = {}): void {
  execFileSync(process.execPath, [...extraNode, BIN, ...args], {
    env: { ...process.env, ...BASE_ENV, ...UNENCRYPTED_ENV, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

describe.runIf(linux)('restoring a very deep tree (built CLI)', () => {
  it(`restores a chain ${DEPTH} directories deep completely, with fewer opens than levels`, async () => {
    const src = await tempDir();
    const target = join(await tempDir(), 'out');
    const repo = join(await tempDir('cairn-repo-'), 'repo');
    const scratch = await tempDir();
    try {
      execFileSync(process.execPath, ['-e', MAKE, src, String(DEPTH)]);
      cairn(['init', '-q', '--repo', repo, '--no-encryption']);
      cairn(['--repo', repo, 'backup', '-q', src]);
      const counter = join(scratch, 'count-opens.cjs');
      const countOut = join(scratch, 'counts.json');
      writeFileSync(counter, COUNTER);
      cairn(['--repo', repo, 'restore', '-q', 'latest', '--target', target], ['-r', counter], {
        COUNT_OUT: countOut,
      });

      const expected = walk(src);
      expect(expected).toHaveLength(DEPTH + 1);
      const restored = walk(target);
      // The target itself gets no metadata from the snapshot (its contents do).
      expect(restored[0]!.names).toEqual(expected[0]!.names);
      expect(restored.slice(1)).toEqual(expected.slice(1));
      expect(restored[DEPTH]!.files).toEqual({
        [`f${DEPTH}`]: { text: `level ${DEPTH}\n`, links: 1 },
        leaf: { text: 'leaf\n', links: 3 },
        leaf2: { text: 'leaf\n', links: 3 },
      });
      expect(restored[DEPTH - 100]!.files).toMatchObject({ up: { text: 'leaf\n', links: 3 } });

      // Reached level by level: an open per ~70 levels (a staged directory is held once
      // its chain of temporary names passes 2 KB), not several hops per level.
      const counts = JSON.parse(readFileSync(countOut, 'utf8')) as {
        opens: number;
        peak: number;
        left: number;
      };
      expect(counts.opens).toBeLessThan(DEPTH / 10);
      expect(counts.peak).toBeLessThan(DEPTH / 20);
      expect(counts.left).toBe(0);

      // Again over the tree now there, with a file changed and one extra at the bottom:
      // existing directories are reached level by level too (indexing the target's
      // files, checking what is in place, deleting), not each by its whole path.
      execFileSync(process.execPath, ['-e', SPOIL, target, String(DEPTH)]);
      cairn(
        ['--repo', repo, 'restore', '-q', 'latest', '--target', target, '--delete'],
        ['-r', counter],
        { COUNT_OUT: countOut },
      );
      const again = walk(target);
      expect(again[0]!.names).toEqual(expected[0]!.names);
      expect(again.slice(1)).toEqual(expected.slice(1));
      const overCounts = JSON.parse(readFileSync(countOut, 'utf8')) as typeof counts;
      expect(overCounts.opens).toBeLessThan(DEPTH / 10);
      expect(overCounts.peak).toBeLessThan(DEPTH / 20);
      expect(overCounts.left).toBe(0);
    } finally {
      for (const d of [src, target]) execFileSync('rm', ['-rf', d]);
    }
  }, 180_000);
});
