/**
 * Where cairn looks for its native module (src/core/xattrs.ts): only in its own folder.
 * A copy of the build without the module, inside a folder that holds another
 * `native/xattr.node` further up (as anyone may put in /tmp), must not load that one.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/fs.js';

const dist = resolve(process.env.CAIRN_DIST ?? 'dist');

/** What `xattrUnsupportedReason()` says in a fresh process importing `module`. */
function reasonIn(module: string): string {
  const env = { ...process.env };
  delete env.CAIRN_XATTR_MODULE;
  return execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(module)}); console.log(m.xattrUnsupportedReason() ?? 'loaded')`,
    ],
    { env, encoding: 'utf8' },
  ).trim();
}

describe('the native module is looked for inside cairn only', () => {
  it('loads the build’s own module, and no other above a build that lacks it', async () => {
    expect(reasonIn(join(dist, 'core', 'xattrs.js'))).toBe('loaded');

    const root = await tempDir();
    const copy = join(root, 'pkg', 'cairn', 'dist');
    await cp(dist, copy, { recursive: true });
    await rm(join(copy, 'native'), { recursive: true, force: true });
    // A module planted in every folder above the copy that an upward search would reach.
    for (const dir of [join(root, 'pkg'), root]) {
      await mkdir(join(dir, 'native'), { recursive: true });
      await mkdir(join(dir, 'dist', 'native'), { recursive: true });
      await cp(join(dist, 'native', 'xattr.node'), join(dir, 'native', 'xattr.node'));
      await cp(join(dist, 'native', 'xattr.node'), join(dir, 'dist', 'native', 'xattr.node'));
    }
    expect(reasonIn(join(copy, 'core', 'xattrs.js'))).toMatch(/was not built/);
  });
});
