/**
 * `backup --no-xattrs`, `restore --no-xattrs`, and what the CLI says where cairn's
 * native module cannot load (`CAIRN_XATTR_MODULE` names a module file that is not there):
 * a note, once, and the exit code of a backup that lost nothing it could read.
 * The built executable, in processes of its own (the module is loaded once per process).
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readXattrs, setXattr } from '../../src/core/xattrs.js';
import { cairnBinary } from '../helpers/compiled.js';
import { tempDir } from '../helpers/fs.js';

const run = promisify(execFile);

async function cairn(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [cairnBinary(), ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const names = (path: string) => readXattrs(path).map((a) => a.name);

describe('extended attributes in the CLI', () => {
  it('--no-xattrs leaves them out of a backup and out of a restore', async () => {
    const root = await tempDir();
    const repo = join(root, 'repo');
    const src = await tempDir();
    await writeFile(join(src, 'f'), 'content');
    setXattr(join(src, 'f'), { name: 'user.kept', value: Buffer.from('yes') });
    const env = { CAIRN_CACHE_DIR: join(root, 'cache') };
    expect((await cairn(env, '-r', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cairn(env, '-r', repo, 'backup', '--tag', 'with', src)).code).toBe(0);
    expect(
      (await cairn(env, '-r', repo, 'backup', '--tag', 'without', '--no-xattrs', src)).code,
    ).toBe(0);
    const restoreInto = async (tag: string, ...more: string[]) => {
      const target = await tempDir();
      const r = await cairn(env, '-r', repo, 'restore', `tag:${tag}`, '--target', target, ...more);
      expect(r.code, r.stderr).toBe(0);
      // One source: its content is the snapshot's root.
      return join(target, 'f');
    };
    const listed = async (tag: string) => {
      const r = await cairn(env, '-r', repo, '--json', 'ls', `tag:${tag}`);
      const entries = r.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { type: string; path?: string; xattrs?: unknown });
      return entries.find((e) => e.type === 'entry' && e.path === 'f');
    };
    expect((await listed('with'))?.xattrs).toEqual([
      { name: 'user.kept', value: Buffer.from('yes').toString('base64') },
    ]);
    expect(await listed('without')).not.toHaveProperty('xattrs');
    expect(names(await restoreInto('with'))).toEqual(['user.kept']);
    expect(names(await restoreInto('without'))).toEqual([]);
    expect(names(await restoreInto('with', '--no-xattrs'))).toEqual([]);
  });

  it('without the native module: a note, once, and exit 0', async () => {
    const root = await tempDir();
    const repo = join(root, 'repo');
    const src = await tempDir();
    for (const n of ['a', 'b']) {
      await writeFile(join(src, n), n);
      setXattr(join(src, n), { name: 'user.x', value: Buffer.from(n) });
    }
    const env = { CAIRN_CACHE_DIR: join(root, 'cache') };
    expect((await cairn(env, '-r', repo, 'init', '--no-encryption')).code).toBe(0);
    // Recorded with the module, restored without it.
    expect((await cairn(env, '-r', repo, 'backup', src)).code).toBe(0);
    const missing = { ...env, CAIRN_XATTR_MODULE: join(root, 'no-such-module.node') };
    const target = await tempDir();
    const restored = await cairn(missing, '-r', repo, 'restore', 'latest', '--target', target);
    expect(restored.code, restored.stderr).toBe(0);
    const notes = restored.stderr.split('\n').filter((l) => l.includes('extended attributes'));
    expect(notes).toEqual([
      expect.stringMatching(
        /^note: extended attributes are not restored: .*no-such-module\.node did not load/,
      ),
    ]);

    const backedUp = await cairn(missing, '-r', repo, '--json', 'backup', src);
    expect(backedUp.code, backedUp.stderr).toBe(0);
    const events = backedUp.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { type: string; code?: string; message?: string });
    expect(events.filter((e) => e.type === 'notice' && e.code === 'xattrs-unavailable')).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/are not recorded/) }),
    ]);
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
  });

  it('one that could not be read is a warning, and the file is not taken from the stat cache next time', async () => {
    const root = await tempDir();
    // A preloaded library makes lgetxattr fail with EIO for files named `unreadable`.
    const shim = join(root, 'shim.c');
    await writeFile(
      shim,
      `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/types.h>
ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size) {
  static ssize_t (*real)(const char *, const char *, void *, size_t);
  if (!real) real = (ssize_t (*)(const char *, const char *, void *, size_t))dlsym(RTLD_NEXT, "lgetxattr");
  size_t n = strlen(path);
  if (n >= 11 && strcmp(path + n - 11, "/unreadable") == 0) { errno = EIO; return -1; }
  return real(path, name, value, size);
}
`,
    );
    execFileSync('cc', ['-shared', '-fPIC', '-o', join(root, 'shim.so'), shim, '-ldl']);
    const repo = join(root, 'repo');
    const src = await tempDir();
    await writeFile(join(src, 'unreadable'), 'content');
    setXattr(join(src, 'unreadable'), { name: 'user.a', value: Buffer.from('b') });
    const env = { CAIRN_CACHE_DIR: join(root, 'cache') };
    expect((await cairn(env, '-r', repo, 'init', '--no-encryption')).code).toBe(0);
    // Older than the stat cache's margin for recent changes.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const failing = await cairn(
      { ...env, LD_PRELOAD: join(root, 'shim.so') },
      '-r',
      repo,
      'backup',
      src,
    );
    expect(failing.code).toBe(3);
    expect(failing.stderr).toMatch(
      /unreadable: extended attributes not recorded: input\/output error \(EIO\)/,
    );
    expect(failing.stderr).toMatch(/1 path recorded without all of their extended attributes/);
    expect(failing.stderr).not.toMatch(/could not be read/);

    const next = await cairn(env, '-r', repo, '--json', 'backup', src);
    expect(next.code, next.stderr).toBe(0);
    const listed = await cairn(env, '-r', repo, '--json', 'ls', 'latest');
    const entry = listed.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { path?: string; xattrs?: unknown })
      .find((e) => e.path === 'unreadable');
    expect(entry?.xattrs).toEqual([{ name: 'user.a', value: Buffer.from('b').toString('base64') }]);
  });
});
