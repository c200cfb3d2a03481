/**
 * Names with control characters, bytes that are not UTF-8 and backslashes reach text
 * output escaped (`\n`, `\x1b`, `\xff`, `\\`): a name read from a repository is
 * untrusted, and printed raw an escape sequence in it would drive the user's terminal
 * and a newline would forge a line of output. `--json` keeps every name exact.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { visiblePath, visibleText } from '../../src/cli/format.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

/** Any raw control character (C0 but the line feed, DEL, C1) in the output. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

const saved = { ...process.env };
afterEach(() => {
  for (const k of ['CAIRN_PASSWORD', 'CAIRN_CACHE_DIR', 'CAIRN_REPO']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe('visiblePath and visibleText', () => {
  it('escape controls, byte escapes and (in paths) backslashes, and nothing else', () => {
    expect(visiblePath('a/plain name.txt')).toBe('a/plain name.txt');
    expect(visiblePath('new\nline\ttab\rcr')).toBe('new\\nline\\ttab\\rcr');
    expect(visiblePath('\x1b[2Jclear\x07\x7f\x9b')).toBe('\\x1b[2Jclear\\x07\\x7f\\x9b');
    // The byte 0xff of a name that is not UTF-8 (core/fs-names.ts escapes it as U+DCFF).
    expect(visiblePath('bad\udcffbyte')).toBe('bad\\xffbyte');
    expect(visiblePath('back\\slash')).toBe('back\\\\slash');
    // A valid surrogate pair whose low half falls in the escape range stays as it is.
    expect(visiblePath('skull \u{1f480} é')).toBe('skull \u{1f480} é');
    expect(visibleText('line one\nline two \x1b[31mred\\')).toBe(
      'line one\nline two \\x1b[31mred\\',
    );
  });
});

describe('text output of unprintable names', () => {
  it('ls, diff, backup -v and restore -v show them escaped; --json keeps them exact', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    process.env.CAIRN_PASSWORD = 'pw';
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    mkdirSync(join(src, 'd'));
    const names = ['new\nline', 'esc\x1b[2J', 'back\\slash'];
    for (const n of names) writeFileSync(join(src, 'd', n), n);
    // A name that is not UTF-8: the byte 0xff.
    writeFileSync(Buffer.concat([Buffer.from(`${src}/d/bad`), Buffer.of(0xff)]), 'x');
    expect((await cli('--repo', repo, 'init', '-q')).code).toBe(0);
    const first = await cli('--repo', repo, 'backup', '-v', src);
    expect(first.code, first.stderr).toBe(0);
    for (const shown of ['new\\nline', 'esc\\x1b[2J', 'back\\\\slash', 'bad\\xff']) {
      expect(first.stdout).toContain(`${join(src, 'd', shown)}\n`);
    }
    expect(first.stdout).not.toMatch(RAW_CONTROL);

    const ls = await cli('--repo', repo, 'ls', 'latest');
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).not.toMatch(RAW_CONTROL);
    const lines = ls.stdout.trim().split('\n');
    // One line per entry: the newline in a name forges none.
    expect(lines).toEqual(['d/', 'd/back\\\\slash', 'd/bad\\xff', 'd/esc\\x1b[2J', 'd/new\\nline']);

    const json = await cli('--repo', repo, '--json', 'ls', 'latest');
    const exact = json.json.filter((e) => e.type === 'entry').map((e) => e.name);
    for (const n of names) expect(exact).toContain(n);
    expect(exact).toContain('bad\udcff');

    writeFileSync(join(src, 'd', 'new\nline'), 'changed');
    expect((await cli('--repo', repo, 'backup', '-q', src)).code).toBe(0);
    const snaps = (await cli('--repo', repo, '--json', 'snapshots')).json
      .filter((e) => e.type === 'snapshot')
      .map((e) => e.id as string);
    const diff = await cli('--repo', repo, 'diff', snaps[0]!, snaps[1]!);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toContain('M d/new\\nline  (');
    expect(diff.stdout).not.toMatch(RAW_CONTROL);

    const target = join(await tempDir(), 'out');
    const restored = await cli('--repo', repo, 'restore', '-v', 'latest', '--target', target);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain('esc\\x1b[2J');
    expect(restored.stdout).not.toMatch(RAW_CONTROL);
  });
});
