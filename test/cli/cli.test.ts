import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { describeTree, pseudoRandomBytes, tempDir } from '../helpers/fs.js';

async function setup() {
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  await mkdir(join(src, 'docs'));
  await writeFile(join(src, 'docs', 'readme.txt'), 'hello world\n');
  await writeFile(join(src, 'data.bin'), pseudoRandomBytes(300_000, 7));
  process.env.CAIRN_CACHE_DIR = await tempDir();
  return { repo, src };
}

describe('cairn CLI (in-process)', () => {
  it('init, backup, snapshots, ls, restore, diff, cat, check, stats with --json', async () => {
    const { repo, src } = await setup();
    const init = await cli('--repo', repo, 'init', '--no-encryption', '--json');
    expect(init.code).toBe(0);
    expect(init.json[0]).toMatchObject({ type: 'summary', operation: 'init' });

    const b1 = await cli('--repo', repo, '--json', 'backup', src, '--tag', 'v1');
    expect(b1.code).toBe(0);
    const sum1 = b1.json.find((e) => e.type === 'summary')!;
    expect(sum1).toMatchObject({ operation: 'backup', files: 2, filesNew: 2 });
    expect(b1.json.some((e) => e.type === 'progress')).toBe(true);
    const id1 = sum1.snapshot as string;
    expect(id1).toMatch(/^[0-9a-f]{64}$/);

    await writeFile(join(src, 'docs', 'readme.txt'), 'hello again\n');
    const b2 = await cli('--repo', repo, '--json', 'backup', src, '--tag', 'v2');
    expect(b2.code).toBe(0);

    const snaps = await cli('--repo', repo, '--json', 'snapshots');
    expect(snaps.json.filter((s) => s.type === 'snapshot').map((s) => s.tags)).toEqual([
      ['v1'],
      ['v2'],
    ]);
    const tagged = await cli('--repo', repo, '--json', 'snapshots', '--tag', 'v1');
    expect(tagged.json.filter((s) => s.type === 'snapshot').map((s) => s.id)).toEqual([id1]);

    const ls = await cli('--repo', repo, 'ls', 'tag:v1');
    expect(ls.stdout.split('\n').filter(Boolean)).toEqual(['data.bin', 'docs/', 'docs/readme.txt']);
    const lsLong = await cli('--repo', repo, '--json', 'ls', id1.slice(0, 8), 'docs');
    expect(lsLong.json.filter((e) => e.type === 'entry').map((e) => e.path)).toEqual([
      'docs',
      'docs/readme.txt',
    ]);

    const diff = await cli('--repo', repo, 'diff', 'tag:v1', 'tag:v2');
    expect(diff.stdout).toContain('M docs/readme.txt');
    const diffJson = await cli('--repo', repo, '--json', 'diff', 'tag:v1', 'latest');
    expect(diffJson.json.filter((e) => e.type === 'change').map((e) => e.path)).toContain(
      'docs/readme.txt',
    );

    const target = await tempDir();
    const r = await cli('--repo', repo, 'restore', 'tag:v1', '--target', target);
    expect(r.code).toBe(0);
    expect(await readFile(join(target, 'docs', 'readme.txt'), 'utf8')).toBe('hello world\n');
    expect(await readFile(join(target, 'data.bin'))).toEqual(pseudoRandomBytes(300_000, 7));

    const partial = await tempDir();
    const r2 = await cli(
      '--repo',
      repo,
      'restore',
      'latest',
      '--target',
      partial,
      '--include',
      'docs',
    );
    expect(r2.code).toBe(0);
    expect(await describeTree(partial, { mtimes: false })).toHaveLength(2);
    expect(r2.stdout).toMatch(
      /^restored snapshot \w{8}: 1 file \(0 already up to date\), 1 directory, /,
    );
    const dry = await cli('--repo', repo, 'restore', 'latest', '--target', partial, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^would restore snapshot \w{8}: 2 files \(1 already up to date\)/);
    expect(dry.stdout).toMatch(
      /^would fetch .*, would reuse .* without fetching \(local files, repeated chunks, holes\)$/m,
    );

    const config = await cli('--repo', repo, 'cat', 'config');
    expect(JSON.parse(config.stdout)).toMatchObject({ cairn: 'repository', version: 1 });
    const snap = await cli('--repo', repo, 'cat', 'snapshot', 'latest');
    expect(JSON.parse(snap.stdout).tags).toEqual(['v2']);
    const tree = await cli('--repo', repo, 'cat', 'tree', JSON.parse(snap.stdout).tree);
    expect(JSON.parse(tree.stdout).entries.map((e: { name: string }) => e.name)).toEqual([
      'data.bin',
      'docs',
    ]);

    const check = await cli('--repo', repo, 'check', '--read-data');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('no problems found');
    expect(check.stdout).toMatch(
      /^checked 2 snapshots, \d+ tree nodes, \d+ data blobs \(read \d+ blobs, .*\); 0 unreferenced data blobs$/m,
    );

    const stats = await cli('--repo', repo, '--json', 'stats');
    expect(stats.json[0]).toMatchObject({ snapshots: 2 });
    expect(stats.json[0]!.dedupRatio as number).toBeGreaterThan(1.5);
  });

  it('exit codes: usage 2, missing repository 1, unreadable file 3', async () => {
    const { repo, src } = await setup();
    expect((await cli('--repo', repo, 'frobnicate')).code).toBe(2);
    expect((await cli('--repo', repo, 'restore', 'latest')).code).toBe(2); // --target missing
    const missing = await cli('--repo', repo, 'snapshots');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no cairn repository at .*repo/);
    const foreignDir = await tempDir();
    await writeFile(join(foreignDir, 'config'), '{"something":"else"}');
    const foreign = await cli('--repo', foreignDir, 'snapshots');
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/not a cairn repository config/);
    const noRepo = await cli('snapshots');
    if (!process.env.CAIRN_REPO) expect(noRepo.code).toBe(2);
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(1); // exists
    expect((await cli('--repo', repo, 'ls', 'zz')).code).toBe(2); // bad selector
    expect((await cli('--repo', repo, 'ls', 'tag:none')).code).toBe(1);
    expect((await cli('--repo', repo, 'init', '--no-encryption', '--avg', 'lots')).code).toBe(2);
    // A bad choice is one line and a hint, not the whole help.
    const choice = await cli('--repo', repo, 'init', '--preset', 'foo');
    expect(choice.code).toBe(2);
    expect(choice.stderr.trim().split('\n')).toEqual([
      "error: option '--preset <name>' argument 'foo' is invalid. Allowed choices are backup, builds.",
      "(add --help for the command's options)",
    ]);

    if (process.getuid?.() !== 0) {
      const { chmod } = await import('node:fs/promises');
      await writeFile(join(src, 'secret'), 'x');
      await chmod(join(src, 'secret'), 0o000);
      const b = await cli('--repo', repo, 'backup', src);
      expect(b.code).toBe(3);
      expect(b.stderr).toMatch(/secret/);
    }
  });

  it('init --preset chooses chunk sizes, inline threshold, pages and compression; flags override it', async () => {
    const dir = await tempDir();
    const init = async (...args: string[]) => {
      const r = await cli(
        '--repo',
        join(dir, String(Math.random())),
        'init',
        '--no-encryption',
        '--json',
        ...args,
      );
      expect(r.code).toBe(0);
      return r.json[0] as {
        chunker: { min: number; avg: number; max: number };
        inlineMax: number;
        paging: { min: number; target: number; max: number };
        compression: string;
      };
    };
    const defaults = await init();
    expect(defaults).toMatchObject({
      chunker: { min: 16384, avg: 65536, max: 262144 },
      inlineMax: 16384,
      paging: { min: 65536, target: 262144, max: 1048576 },
      compression: 'auto',
    });
    expect(await init('--preset', 'backup')).toMatchObject({
      chunker: defaults.chunker,
      inlineMax: defaults.inlineMax,
      paging: defaults.paging,
      compression: defaults.compression,
    });
    expect(await init('--preset', 'builds')).toMatchObject({
      chunker: { min: 4096, avg: 16384, max: 65536 },
      inlineMax: 4096,
      paging: { min: 16384, target: 65536, max: 262144 },
      compression: 'max',
    });
    expect(
      await init('--preset', 'builds', '--avg', '32K', '--max', '128K', '--compression', 'off'),
    ).toMatchObject({ chunker: { min: 4096, avg: 32768, max: 131072 }, compression: 'off' });
    const unknown = await cli(
      '--repo',
      join(dir, 'x'),
      'init',
      '--no-encryption',
      '--preset',
      'fast',
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/backup, builds|builds/);
    const source = join(dir, 'source');
    expect((await cli('--repo', source, 'init', '--no-encryption')).code).toBe(0);
    const both = await cli(
      '--repo',
      join(dir, 'y'),
      'init',
      '--no-encryption',
      '--copy-params-from',
      source,
      '--preset',
      'builds',
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--preset/);
  });

  it('version names the program, Node and the zstd engine in use', async () => {
    const { zstdEngine } = await import('../../src/repo/zstd.js');
    const { VERSION } = await import('../../src/ops/program.js');
    const engine = await zstdEngine();
    const r = await cli('--json', 'version');
    expect(r.code).toBe(0);
    expect(r.json).toEqual([
      {
        type: 'version',
        cairn: VERSION,
        node: process.versions.node,
        platform: `${process.platform}/${process.arch}`,
        zstd: { engine: engine.name, version: engine.version },
      },
    ]);
    const text = await cli('version');
    expect(text.stdout).toBe(
      `cairn ${VERSION} (node ${process.versions.node}, ${process.platform}/${process.arch}, zstd ${engine.name}${engine.version ? ` ${engine.version}` : ''})\n`,
    );
  });

  it('chunk prints offsets, lengths and sha256 ids', async () => {
    const dir = await tempDir();
    const file = join(dir, 'f');
    await writeFile(file, pseudoRandomBytes(100_000, 5));
    const r = await cli('--json', 'chunk', file, '--min', '1K', '--avg', '4K', '--max', '16K');
    expect(r.code).toBe(0);
    let offset = 0;
    const chunks = r.json.filter((e) => e.type === 'chunk');
    for (const c of chunks) {
      expect(c.offset).toBe(offset);
      expect(c.id).toMatch(/^[0-9a-f]{64}$/);
      offset += c.length as number;
    }
    expect(offset).toBe(100_000);
    // Every line has a type; the last is the summary.
    expect(r.json.at(-1)).toEqual({
      type: 'summary',
      operation: 'chunk',
      chunks: chunks.length,
      bytes: 100_000,
    });
    expect(r.json.length).toBe(chunks.length + 1);
    const bad = await cli('chunk', file, '--min', '8K', '--avg', '4K', '--max', '16K');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/min/);
  });
});
