import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { shortId } from '../../src/core/ids.js';
import { blobKey } from '../../src/repo/layout.js';
import { App } from '../../src/tui/app.js';
import { formatBytes, formatCount } from '../../src/tui/format.js';
import { tempDir } from '../helpers/fs.js';
import { buildFixture, throughBackend } from './fixtures.js';
import { cursorLine, frame, KEY, lines, press, waitFor } from './render.js';

afterEach(() => cleanup());

/** The listing row showing `name` (a whole word in the name column). */
function row(f: string, name: string): string | undefined {
  return lines(f).find((l) => new RegExp(`^[> ] .{3} ${name.replace('.', '\\.')}( |/|$)`).test(l));
}

describe('snapshot list', () => {
  it('lists snapshots newest first with time, host, tags, files and size', async () => {
    const { repo, snaps } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    const f = await waitFor(app, '3/3 snapshots');
    const rows = lines(f).filter((l) => snaps.some((s) => l.includes(shortId(s.id))));
    expect(rows.map((l) => snaps.findIndex((s) => l.includes(shortId(s.id))))).toEqual([2, 1, 0]);
    const [v3, v2] = rows;
    expect(v3).toMatch(/^> /);
    expect(v3).toContain('beta');
    expect(v3).toContain('nightly');
    expect(v3).toContain(formatCount(snaps[2].snapshot.summary.files));
    expect(v3).toContain(formatBytes(snaps[2].snapshot.summary.bytes));
    expect(v2).toContain('alpha');
    expect(v2).toContain('release,v2');
    expect(f).toMatch(/ID\s+Time\s+Host\s+Tags\s+Files\s+Size\s+Paths/);
  });

  it('filters by typed text, tag: and host:, and Esc clears the filter', async () => {
    const { repo, snaps } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, '/', 'tag:v');
    let f = await waitFor(app, '2/3 snapshots');
    expect(f).toContain('Filter (text, tag:NAME, host:NAME): tag:v');
    expect(f).not.toContain(shortId(snaps[2].id));
    await press(app, '2', KEY.enter);
    f = await waitFor(app, '1/3 snapshots');
    expect(f).toContain(shortId(snaps[1].id));
    expect(f).toContain('filter: "tag:v2"');
    await press(app, KEY.escape);
    await waitFor(app, '3/3 snapshots');
    await press(app, '/', 'host:BETA', KEY.enter);
    f = await waitFor(app, '1/3 snapshots');
    expect(f).toContain(shortId(snaps[2].id));
    await press(app, KEY.escape, '/', 'nomatch', KEY.enter);
    await waitFor(app, 'no snapshot matches the filter');
  });

  it('^U clears the filter, also when it arrives with the text typed after it', async () => {
    const { repo } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, '/', 'nomatch');
    await waitFor(app, '0/3 snapshots');
    await press(app, '\x15');
    await waitFor(app, '3/3 snapshots');
    // One chunk, as a paste or fast typing delivers it: ^U, then new text.
    await press(app, 'zzz', '\x15tag:v2');
    const f = await waitFor(app, '1/3 snapshots');
    expect(f).toContain('Filter (text, tag:NAME, host:NAME): tag:v2');
  });
});

describe('tree browser', () => {
  it('opens a snapshot with breadcrumb and size/mtime/mode columns, walks in and back up', async () => {
    const { repo, snaps } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, KEY.enter);
    const id = shortId(snaps[2].id);
    let f = await waitFor(app, '1/5');
    expect(f).toContain(`${id}:/`);
    expect(f).toMatch(/Name\*\s+Size\s+Modified\s+Mode/);
    expect(row(f, 'big.dat')).toContain(formatBytes(200_000));
    expect(row(f, 'readme.txt')).toContain('-rw-------');
    expect(row(f, 'code')).toContain('drwx');
    expect(row(f, 'big.dat')).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d/);
    expect(cursorLine(f)).toContain('big.dat');
    await press(app, 'j', KEY.down);
    expect(cursorLine(frame(app))).toContain('docs/');
    await press(app, KEY.enter);
    f = await waitFor(app, `${id}:/docs`);
    await waitFor(app, '1/3');
    expect(row(frame(app), 'a.txt')).toBeDefined();
    expect(row(frame(app), 'c.txt')).toBeDefined();
    expect(row(frame(app), 'b.txt')).toBeUndefined();
    await press(app, KEY.backspace);
    f = await waitFor(app, (x) => x.includes(`${id}:/\n`) || x.includes(`${id}:/ `));
    expect(cursorLine(f)).toContain('docs/');
    // h and l move too; Esc at the top goes back to the list.
    await press(app, 'l');
    await waitFor(app, `${id}:/docs`);
    await press(app, 'h', KEY.escape);
    await waitFor(app, '3/3 snapshots');
  });

  it('sorts by size and time, reverses, and searches the current directory', async () => {
    const { repo } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, KEY.enter);
    await waitFor(app, '1/5');
    const order = () =>
      lines(frame(app))
        .map((l) => /^[> ] \[.\] (\S+)/.exec(l)?.[1])
        .filter((n): n is string => n !== undefined && n !== 'Name*');
    expect(order()).toEqual(['big.dat', 'code/', 'docs/', 'image.bin', 'readme.txt']);
    await press(app, 's');
    await waitFor(app, 'sort: size');
    expect(order()[0]).toBe('big.dat');
    expect(order().at(-1)).toBe('readme.txt');
    await press(app, 'S');
    await waitFor(app, 'sort: size (reversed)');
    expect(order()[0]).toBe('readme.txt');
    await press(app, 's');
    await waitFor(app, 'sort: time');
    await press(app, 's');
    await waitFor(app, 'sort: name');
    await press(app, '/', 'A');
    let f = await waitFor(app, 'search: "A"');
    expect(f).toContain('Search: A');
    expect(order()).toEqual(['big.dat', 'image.bin', 'readme.txt']);
    expect(f).toContain('1/3 of 5');
    await press(app, 'T', KEY.enter);
    f = await waitFor(app, 'search: "AT"');
    expect(order()).toEqual(['big.dat']);
    await press(app, '/', 'zzz', KEY.enter);
    await waitFor(app, 'no names match the search');
    await press(app, KEY.escape);
    await waitFor(app, '1/5');
    expect(order()).toHaveLength(5);
  });

  it('selects files and whole directories, shows partial directories and the total', async () => {
    const { repo, snaps, files } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, KEY.enter);
    await waitFor(app, '1/5');
    await press(app, 'j', 'j', KEY.enter);
    await waitFor(app, '/docs');
    await waitFor(app, '1/3');
    await press(app, ' ');
    let f = await waitFor(app, 'selected: 1 file');
    expect(row(f, 'a.txt')).toContain('[x]');
    expect(row(f, 'c.txt')).toContain('[ ]');
    expect(cursorLine(f)).toContain('c.txt');
    expect(f).toContain(`selected: 1 file, ${formatBytes(files['docs/a.txt']!.length)}`);
    await press(app, KEY.backspace);
    f = await waitFor(app, (x) => row(x, 'docs')?.includes('[-]') ?? false);
    const code = [];
    for await (const e of repo.trees.entries(snaps[2].snapshot.tree))
      if (e.name === 'code') code.push(e);
    const codeDir = code[0]!;
    if (codeDir.kind !== 'dir') throw new Error('code is not a directory');
    await press(app, 'k', ' ');
    const total = files['docs/a.txt']!.length + codeDir.bytes;
    f = await waitFor(app, `selected: ${codeDir.files + 1} files, ${formatBytes(total)}`);
    expect(row(f, 'code')).toContain('[x]');
    // Unselecting one file inside the selected directory makes it partial.
    await press(app, 'k', KEY.enter);
    await waitFor(app, '/code');
    await waitFor(app, '1/2');
    f = await waitFor(app, (x) => row(x, 'main.ts')?.includes('[x]') ?? false);
    expect(row(f, 'lib')).toContain('[x]');
    await press(app, 'j', ' ');
    f = await waitFor(app, `selected: ${codeDir.files} files`);
    expect(row(f, 'main.ts')).toContain('[ ]');
    await press(app, KEY.backspace);
    f = await waitFor(app, (x) => row(x, 'code')?.includes('[-]') ?? false);
    // Selecting every entry of a directory one by one shows it as wholly selected.
    await press(app, 'j', KEY.enter);
    await waitFor(app, '/docs');
    await waitFor(app, '1/3');
    await press(app, 'j', ' ', ' ');
    await press(app, KEY.backspace);
    await waitFor(app, (x) => row(x, 'docs')?.includes('[x]') ?? false);
    await press(app, 'u');
    f = await waitFor(app, (x) => !x.includes('selected:'));
    expect(row(f, 'code')).toContain('[ ]');
    // `a` selects the directory being shown.
    await press(app, 'a');
    await waitFor(app, `selected: ${formatCount(snaps[2].snapshot.summary.files)} files`);
  });

  it('previews text files and shows binary files as hex', async () => {
    const { repo } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, KEY.enter);
    await waitFor(app, '1/5');
    await press(app, 'j', 'j', KEY.enter);
    await waitFor(app, '/docs');
    await waitFor(app, '1/3');
    await press(app, 'j', 'j', KEY.enter);
    let f = await waitFor(app, '# Notes');
    expect(f).toContain('docs/notes.md');
    expect(f).toContain('3 lines');
    expect(f).toContain('        indented');
    await press(app, KEY.escape);
    await waitFor(app, '/docs');
    await press(app, 'g', KEY.enter);
    f = await waitFor(app, 'alpha line 1');
    expect(f).toContain('210 lines');
    await press(app, 'G');
    await waitFor(app, 'alpha line 210');
    await press(app, KEY.escape, KEY.backspace);
    await waitFor(app, '3/5');
    await press(app, 'G', 'k', 'p');
    f = await waitFor(app, 'binary');
    expect(f).toMatch(/00000000 {2}[0-9a-f]{2} /);
  });

  it('shows help with ?, closes it with any key, and quits with q', async () => {
    const { repo } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, '?');
    let f = await waitFor(app, 'cairn tui: keys');
    expect(f).toContain('Snapshot list');
    expect(frame(app)).not.toContain('3/3 snapshots');
    await press(app, 'x');
    f = await waitFor(app, '3/3 snapshots');
    await press(app, KEY.enter);
    await waitFor(app, '1/5');
    await press(app, '?');
    f = await waitFor(app, 'cairn tui: keys');
    await press(app, KEY.escape);
    await waitFor(app, '1/5');
    expect(app.stdin.listenerCount('readable')).toBeGreaterThan(0);
    await press(app, 'q');
    // Quitting unmounts the app, which stops reading the keyboard.
    await waitFor(app, () => app.stdin.listenerCount('readable') === 0);
  });

  it('shows an unreadable directory as an error on the status line', async () => {
    const fixture = await buildFixture();
    const docs = await fixture.repo.trees.lookup(fixture.snaps[2].snapshot.tree, 'docs');
    if (docs?.kind !== 'dir') throw new Error('docs is not a directory');
    await fixture.repo.backend.delete(blobKey('tree', docs.tree));
    // A fresh repository object: nothing cached from building the fixture.
    const repo = throughBackend(fixture.repo, (b) => b);
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, KEY.enter);
    await waitFor(app, '1/5');
    await press(app, 'j', 'j', KEY.enter);
    const f = await waitFor(app, 'error:');
    expect(f).toContain(`tree blob ${docs.tree} is missing`);
    expect(f).toContain('0/0');
    await press(app, KEY.backspace);
    await waitFor(app, '3/5');
  });

  it('follows terminal resizes', async () => {
    const { repo } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, KEY.enter);
    let f = await waitFor(app, '1/5');
    expect(f).toContain('Mode');
    expect(lines(f)).toHaveLength(23);
    const resize = (columns: number, rows: number) => {
      Object.defineProperty(app.stdout, 'columns', { value: columns, configurable: true });
      Object.defineProperty(app.stdout, 'rows', { value: rows, configurable: true });
      app.stdout.emit('resize');
    };
    resize(50, 12);
    f = await waitFor(app, (x) => lines(x).length === 11);
    expect(f).not.toContain('Mode');
    expect(f).toContain('Size');
    for (const l of lines(f)) expect(l.length).toBeLessThanOrEqual(50);
    resize(140, 40);
    f = await waitFor(app, (x) => lines(x).length === 39);
    expect(f).toContain('Mode');
  });
});
