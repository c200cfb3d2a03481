/**
 * `cairn backup --files-from/--files-from-verbatim/--files-from-raw`: the three list
 * formats (comments and CR LF, lines as written, NUL-separated names that are not
 * UTF-8), no PATH (the common directory), a path not found (exit 3), and the usage
 * errors before the repository is opened.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

async function setup() {
  process.env.CAIRN_CACHE_DIR = await tempDir();
  const repo = join(await tempDir(), 'repo');
  const root = await tempDir();
  await writeTree(root, {
    src: { 'a.ts': 'a', 'b.ts': 'b', '#odd': 'o', lib: { 'c.ts': 'c' } },
    docs: { 'guide.md': 'g' },
    'README.md': 'r',
  });
  expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
  return { repo, root, lists: await tempDir() };
}

async function listing(repo: string): Promise<string[]> {
  const r = await cli('--repo', repo, '--json', 'ls', 'latest');
  return r.json.filter((e) => e.type === 'entry').map((e) => String(e.path));
}

describe('cairn backup --files-from', () => {
  it('reads the three formats and backs up only what they list', async () => {
    const { repo, root, lists } = await setup();
    const text = join(lists, 'text');
    await writeFile(text, `# sources\r\n${root}/src/a.ts\r\n\r\n${root}/src/lib\r\n`);
    const verbatim = join(lists, 'verbatim');
    await writeFile(verbatim, `${root}/src/#odd\n`);
    const raw = join(lists, 'raw');
    const byteName = Buffer.from([0x66, 0xff]); // "f" and a byte that is not UTF-8
    await writeFile(Buffer.concat([Buffer.from(`${root}/docs/`), byteName]), 'not utf-8');
    await writeFile(raw, Buffer.concat([Buffer.from(`${root}/docs/`), byteName, Buffer.from([0])]));
    const r = await cli(
      '--repo',
      repo,
      'backup',
      root,
      '--files-from',
      text,
      '--files-from-verbatim',
      verbatim,
      '--files-from-raw',
      raw,
    );
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect((await listing(repo)).sort()).toEqual(
      ['docs', 'docs/f\udcff', 'src', 'src/#odd', 'src/a.ts', 'src/lib', 'src/lib/c.ts'].sort(),
    );
  });

  it('without PATH backs up the deepest directory holding the list; a path not found is exit 3', async () => {
    const { repo, root, lists } = await setup();
    const list = join(lists, 'list');
    await writeFile(list, `${root}/src/a.ts\n${root}/src/gone.ts\n`);
    const r = await cli('--repo', repo, '--json', 'backup', '--files-from', list);
    expect(r.code).toBe(EXIT.partial);
    expect(r.json.find((e) => e.type === 'warning')).toMatchObject({
      path: `${root}/src/gone.ts`,
      message: expect.stringContaining('listed in --files-from, but not found'),
    });
    const snapshot = r.json.find((e) => e.type === 'summary');
    expect(snapshot).toBeDefined();
    const snaps = await cli('--repo', repo, '--json', 'snapshots');
    expect(snaps.json[0]).toMatchObject({ type: 'snapshot', paths: [`${root}/src`] });
    expect(await listing(repo)).toEqual(['a.ts']);
  });

  it('reads a list of 300,000 paths', async () => {
    const { repo, root, lists } = await setup();
    const list = join(lists, 'long');
    // Mostly names that are not there (each a warning), and one that is.
    const lines = Array.from({ length: 300_000 }, (_, i) => `${root}/src/missing-${i}`);
    lines.push(`${root}/src/a.ts`);
    await writeFile(list, `${lines.join('\n')}\n`);
    const r = await cli('--repo', repo, 'backup', root, '--files-from', list, '--quiet');
    expect(r.code).toBe(EXIT.partial);
    expect(r.stderr).toContain('300000 paths listed in --files-from not found');
    expect(await listing(repo)).toEqual(['src', 'src/a.ts']);
  }, 60_000);

  it('refuses empty lists, paths outside PATH, two lists on stdin and a stream, before opening the repository', async () => {
    const { root, lists } = await setup();
    const noRepo = join(await tempDir(), 'none');
    const empty = join(lists, 'empty');
    await writeFile(empty, '# nothing here\n\n');
    const outside = join(lists, 'outside');
    await writeFile(outside, `${root}/docs/guide.md\n`);
    const cases: Array<[string[], RegExp]> = [
      [['backup', root, '--files-from', empty], /no path listed/],
      [['backup', `${root}/src`, '--files-from', outside], /is not inside any PATH given/],
      [['backup', root, '--files-from', '-', '--files-from-raw', '-'], /one list only/],
      [
        ['backup', '--stdin', '--files-from', outside],
        /nothing to filter in a backup of standard input/,
      ],
      [['backup', root, '--files-from', join(lists, 'nope')], /--files-from: cannot read/],
      [['backup', root, '--files-from', ''], /--files-from "": the path is empty/],
    ];
    for (const [args, message] of cases) {
      const r = await cli('--repo', noRepo, ...args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
