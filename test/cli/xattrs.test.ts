/**
 * `backup --no-xattrs`, `restore --no-xattrs`, and what the CLI says where cairn's
 * native module cannot load (`CAIRN_XATTR_MODULE` names a module file that is not there):
 * a note, once, and the exit code of a backup that lost nothing it could read.
 * The built executable, in processes of its own (the module is loaded once per process).
 */
import { execFile, execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readXattrs, setXattr } from '../../src/core/xattrs.js';
import { cairnBinary } from '../helpers/compiled.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

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

/** The NDJSON objects of a `--json` run's stdout. */
const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * A library to preload (`LD_PRELOAD`) that makes lgetxattr fail with EIO for files named
 * `unreadable`, as a failing disk or network file system would.
 */
async function failingGetxattr(dir: string): Promise<string> {
  const source = join(dir, 'shim.c');
  await writeFile(
    source,
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
  const library = join(dir, 'shim.so');
  execFileSync('cc', ['-shared', '-fPIC', '-o', library, source, '-ldl']);
  return library;
}

/** The attributes `ls --json latest` shows for `path`. */
async function listedXattrs(env: Record<string, string>, repo: string, path: string) {
  const listed = await cairn(env, '-r', repo, '--json', 'ls', 'latest');
  return jsonLines(listed.stdout).find((e) => e.path === path)?.xattrs;
}

/** Waits past the stat cache's margin for recent changes (a file set up just now). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

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
      return jsonLines(r.stdout).find((e) => e.type === 'entry' && e.path === 'f');
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
    const events = jsonLines(backedUp.stdout);
    expect(events.filter((e) => e.type === 'notice' && e.code === 'xattrs-unavailable')).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/are not recorded/) }),
    ]);
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
  });

  it('one that could not be read is a warning, and the file is not taken from the stat cache next time', async () => {
    const root = await tempDir();
    const shim = await failingGetxattr(root);
    const repo = join(root, 'repo');
    const src = await tempDir();
    await writeFile(join(src, 'unreadable'), 'content');
    setXattr(join(src, 'unreadable'), { name: 'user.a', value: Buffer.from('b') });
    const env = { CAIRN_CACHE_DIR: join(root, 'cache') };
    expect((await cairn(env, '-r', repo, 'init', '--no-encryption')).code).toBe(0);
    await settle();
    const failing = await cairn({ ...env, LD_PRELOAD: shim }, '-r', repo, 'backup', src);
    expect(failing.code).toBe(3);
    expect(failing.stderr).toMatch(
      /unreadable: extended attributes not recorded: input\/output error \(EIO\)/,
    );
    expect(failing.stderr).toMatch(/extended attributes not recorded for 1 path/);
    expect(failing.stderr).not.toMatch(/could not be read/);

    const next = await cairn(env, '-r', repo, 'backup', src);
    expect(next.code, next.stderr).toBe(0);
    expect(await listedXattrs(env, repo, 'unreadable')).toEqual([
      { name: 'user.a', value: Buffer.from('b').toString('base64') },
    ]);
  });

  it('the same for a file read again because its chunks were lost, and for a backup root', async () => {
    const root = await tempDir();
    const shim = await failingGetxattr(root);
    const repo = join(root, 'repo');
    const src = await tempDir();
    // Chunked (larger than the inline limit), beside a file changed each time so that
    // the folder is written again and the cached entry looked up.
    await writeFile(join(src, 'unreadable'), pseudoRandomBytes(300_000, 1));
    setXattr(join(src, 'unreadable'), { name: 'user.a', value: Buffer.from('b') });
    await writeFile(join(src, 'other'), 'one');
    const env = { CAIRN_CACHE_DIR: join(root, 'cache') };
    expect((await cairn(env, '-r', repo, 'init', '--no-encryption')).code).toBe(0);
    await settle();
    expect((await cairn(env, '-r', repo, 'backup', src)).code).toBe(0);
    // A prune or a disk lost the chunks: the cache matches, the file is read again.
    await rm(join(repo, 'data'), { recursive: true });
    await writeFile(join(src, 'other'), 'two');
    await settle();
    const failing = await cairn({ ...env, LD_PRELOAD: shim }, '-r', repo, 'backup', src);
    expect(failing.code, failing.stderr).toBe(3);
    await writeFile(join(src, 'other'), 'three');
    await settle();
    const next = await cairn(env, '-r', repo, 'backup', src);
    expect(next.code, next.stderr).toBe(0);
    expect(await listedXattrs(env, repo, 'unreadable')).toEqual([
      { name: 'user.a', value: Buffer.from('b').toString('base64') },
    ]);

    // A backup of that one file: its content is saved, only a warning for the rest.
    const alone = await cairn(
      { ...env, LD_PRELOAD: shim },
      '-r',
      repo,
      'backup',
      join(src, 'unreadable'),
    );
    expect(alone.code, alone.stderr).toBe(3);
    expect(alone.stdout).toMatch(/snapshot [0-9a-f]+ saved/);
  });
});
