/**
 * Backup options as given on the command line: an `--exclude` pattern is taken as it is
 * (`#` and spaces are file-comment rules of `--exclude-file` only); empty values are
 * usage errors; a missing exclude file, a missing PATH and a directory given to `chunk`
 * are named with their cause in words. Also `cat config` with a stray argument.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

async function setup() {
  process.env.CAIRN_CACHE_DIR = await tempDir();
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  for (const name of ['#auto#', ' lead', 'keep', 'drop.o']) await writeFile(join(src, name), name);
  expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
  return { repo, src };
}

async function names(repo: string): Promise<string[]> {
  const ls = await cli('--repo', repo, '--json', 'ls', 'latest');
  return ls.json.filter((e) => e.type === 'entry').map((e) => String(e.name));
}

describe('backup options', () => {
  it('takes --exclude patterns as they are, and --exclude-file lines as documented', async () => {
    const { repo, src } = await setup();
    const r = await cli('--repo', repo, 'backup', src, '--exclude', '#*', '--exclude', ' lead');
    expect(r.code, r.stderr).toBe(0);
    expect((await names(repo)).sort()).toEqual(['drop.o', 'keep']);
    const file = join(await tempDir(), 'excludes');
    await writeFile(file, '# a comment\r\n\r\n  *.o  \r\n#auto#\r\n');
    const f = await cli('--repo', repo, 'backup', src, '--exclude-file', file);
    expect(f.code, f.stderr).toBe(0);
    expect((await names(repo)).sort()).toEqual([' lead', '#auto#', 'keep']);
  });

  it('refuses empty values and names what cannot be read', async () => {
    const { repo, src } = await setup();
    for (const args of [
      ['--exclude', ''],
      ['--parent', ''],
      ['--exclude-file', ''],
    ]) {
      const r = await cli('--repo', repo, 'backup', src, ...args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.stderr).toContain(`${args[0]} "": the`);
    }
    const missing = join(src, 'no-such-file');
    const noFile = await cli('--repo', repo, 'backup', src, '--exclude-file', missing);
    expect(noFile.stderr).toContain(
      `cannot read exclude file ${missing}: no such file or directory (ENOENT)`,
    );
    const noPath = await cli('--repo', repo, 'backup', missing);
    expect(noPath.code).toBe(EXIT.usage);
    expect(noPath.stderr).toContain(
      `cannot back up ${missing}: no such file or directory (ENOENT)`,
    );
    const dir = join(src, 'a-dir');
    await mkdir(dir);
    const chunk = await cli('chunk', dir);
    expect(chunk.code).toBe(EXIT.failure);
    expect(chunk.stderr).toContain(`cannot read ${dir}: is a directory (EISDIR)`);
    // A bad glob is a usage error before any repository is opened (this one is missing).
    const glob = await cli('--repo', join(src, 'no-repo'), 'backup', src, '--exclude', '[z-a]');
    expect(glob.code).toBe(EXIT.usage);
    expect(glob.stderr).toContain('--exclude: exclude pattern [z-a] has a range out of order: z-a');
    const cat = await cli('--repo', repo, 'cat', 'config', 'extra');
    expect(cat.code).toBe(EXIT.usage);
    expect(cat.stderr).toContain('cat config takes no id');
  });
});

describe('backup --exclude-caches, --exclude-if-present', () => {
  it('leaves out the content of tagged directories and says so with -v', async () => {
    const { repo, src } = await setup();
    await mkdir(join(src, 'cache'));
    await writeFile(
      join(src, 'cache', 'CACHEDIR.TAG'),
      'Signature: 8a477f597d28d172789f06886806bc55\n',
    );
    await writeFile(join(src, 'cache', 'blob'), 'b');
    await mkdir(join(src, 'scratch'));
    await writeFile(join(src, 'scratch', 'NOBACKUP'), 'skip me please');
    await writeFile(join(src, 'scratch', 'tmp'), 't');
    const r = await cli(
      '--repo',
      repo,
      'backup',
      src,
      '-v',
      '--exclude-caches',
      '--exclude-if-present',
      'NOBACKUP:skip me',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${join(src, 'cache')}: content left out, tagged by CACHEDIR.TAG`);
    const ls = await cli('--repo', repo, '--json', 'ls', 'latest');
    const paths = ls.json.filter((e) => e.type === 'entry').map((e) => String(e.path));
    expect(paths).toContain('cache/CACHEDIR.TAG');
    expect(paths).toContain('scratch/NOBACKUP');
    expect(paths).not.toContain('cache/blob');
    expect(paths).not.toContain('scratch/tmp');
    // A header that does not match tags nothing.
    const other = await cli('--repo', repo, 'backup', src, '--exclude-if-present', 'NOBACKUP:keep');
    expect(other.code, other.stderr).toBe(0);
    const again = await cli('--repo', repo, '--json', 'ls', 'latest');
    expect(again.json.map((e) => String(e.path))).toContain('scratch/tmp');
  });

  it('takes --exclude-larger-than as a size, and refuses one that is not', async () => {
    const { repo, src } = await setup();
    await writeFile(join(src, 'big.bin'), Buffer.alloc(3 * 1024));
    const r = await cli('--repo', repo, 'backup', src, '--exclude-larger-than', '2K');
    expect(r.code, r.stderr).toBe(0);
    const ls = await cli('--repo', repo, '--json', 'ls', 'latest');
    const paths = ls.json.filter((e) => e.type === 'entry').map((e) => String(e.path));
    expect(paths).toContain('keep');
    expect(paths).not.toContain('big.bin');
    const bad = await cli('--repo', repo, 'backup', src, '--exclude-larger-than', 'big');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain('--exclude-larger-than: "big" is not a size');
    const tera = await cli('--repo', repo, 'backup', src, '--exclude-larger-than', '1T');
    expect(tera.code, tera.stderr).toBe(0);
    const huge = await cli('--repo', repo, 'backup', src, '--exclude-larger-than', '9000000T');
    expect(huge.code).toBe(EXIT.usage);
    expect(huge.stderr).toContain('--exclude-larger-than: "9000000T" is too large (at most 8 PiB)');
  });

  it('refuses a tag that is not a file name before opening the repository', async () => {
    const src = await tempDir();
    const noRepo = join(src, 'no-repo');
    for (const [spec, message] of [
      ['', 'no file name'],
      [':Signature', "no file name before the ':'"],
      ['a/b', 'the name must be a file name, not a path'],
    ]) {
      const r = await cli('--repo', noRepo, 'backup', src, '--exclude-if-present', spec!);
      expect(r.code, spec).toBe(EXIT.usage);
      expect(r.stderr).toContain(`--exclude-if-present ${JSON.stringify(spec)}: ${message}`);
    }
  });
});

describe('backup PATH ending in /', () => {
  it('follows a symbolic link to a directory named `link/`, as the kernel does', async () => {
    const { repo, src } = await setup();
    const outside = await tempDir();
    await writeFile(join(outside, 'inside.txt'), 'through the link\n');
    const link = join(src, 'link');
    await symlink(outside, link);
    // `link` alone is the link itself; `link/` is the directory it points to.
    const bare = await cli('--repo', repo, 'backup', link);
    expect(bare.code, bare.stderr).toBe(0);
    expect(await names(repo)).toEqual(['link']);
    const slash = await cli('--repo', repo, 'backup', `${link}/`);
    expect(slash.code, slash.stderr).toBe(0);
    expect(await names(repo)).toEqual(['inside.txt']);
    const snaps = await cli('--repo', repo, '--json', 'snapshots');
    // Recorded with its `/`: not the same backup as `link` alone (parent, retention).
    const records = snaps.json.filter((e) => e.type === 'snapshot');
    expect(records.map((e) => e.paths)).toEqual([[link], [`${link}/`]]);
    const again = await cli('--repo', repo, '--json', 'backup', `${link}/`);
    const start = again.json.find((e) => e.type === 'start');
    expect(start?.parent).toBe(records[1]!.id);
    // Among several paths, too: its entry is a directory.
    const other = join(src, 'keep');
    const both = await cli('--repo', repo, 'backup', `${link}/.`, other);
    expect(both.code, both.stderr).toBe(0);
    const ls = await cli('--repo', repo, '--json', 'ls', 'latest');
    const entries = ls.json.filter((e) => e.type === 'entry');
    expect(entries.map((e) => [e.path, e.kind])).toEqual([
      ['keep', 'file'],
      ['link', 'dir'],
      ['link/inside.txt', 'file'],
    ]);
    // A link to a file named as a directory: the kernel's ENOTDIR, nothing saved.
    const fileLink = join(src, 'file-link');
    await symlink(join(src, 'keep'), fileLink);
    const notDir = await cli('--repo', repo, 'backup', `${fileLink}/`);
    expect(notDir.code).toBe(EXIT.usage);
    expect(notDir.stderr).toContain(`cannot back up ${fileLink}/: not a directory (ENOTDIR)`);
    // Every bad PATH is named, a followed one as typed.
    const gone = join(src, 'gone');
    const both2 = await cli('--repo', repo, 'backup', `${fileLink}/.`, gone);
    expect(both2.code).toBe(EXIT.usage);
    expect(both2.stderr).toContain(
      `cannot back up ${fileLink}/.: not a directory (ENOTDIR); cannot back up ${gone}: no such file or directory (ENOENT)`,
    );
  });
});
