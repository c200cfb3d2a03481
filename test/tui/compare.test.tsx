import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { shortId } from '../../src/core/ids.js';
import { App } from '../../src/tui/app.js';
import { tempDir } from '../helpers/fs.js';
import { buildFixture } from './fixtures.js';
import { cursorLine, KEY, lines, press, waitFor } from './render.js';

afterEach(() => cleanup());

/** The three-character change marker of the row showing `name`, or undefined. */
function marker(f: string, name: string): string | undefined {
  const re = new RegExp(`^[> ] (.{3}) ${name.replace('.', '\\.')}( |/|$)`);
  for (const l of lines(f)) {
    const m = re.exec(l);
    if (m) return m[1]!.trim();
  }
  return undefined;
}

describe('compare', () => {
  it('marks added, removed, modified and metadata changes and filters to changes', async () => {
    const { repo, snaps } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    // Mark the oldest with c, then choose the newest with c.
    await press(app, 'G', 'c');
    await waitFor(app, `compare from ${shortId(snaps[0].id)}`);
    await press(app, 'g', 'c');
    let f = await waitFor(app, `compare ${shortId(snaps[0].id)} → ${shortId(snaps[2].id)}`);
    f = await waitFor(app, (x) => x.includes('1/5') && !x.includes('comparing'));
    // docs: a.txt modified, b.txt removed, c.txt added; code: lib/new.ts added;
    // readme.txt: mode changed only.
    expect(f).toMatch(/\+2 -1 ~1 \*\d+/);
    expect(marker(f, 'docs')).toBe('~');
    expect(marker(f, 'code')).toBe('~');
    expect(marker(f, 'readme.txt')).toBe('*');
    expect(marker(f, 'big.dat')).toBe('');
    expect(marker(f, 'image.bin')).toBe('');
    await press(app, 'j', 'j', KEY.enter);
    f = await waitFor(app, '/docs');
    f = await waitFor(app, '1/4');
    expect(marker(f, 'a.txt')).toBe('~');
    expect(marker(f, 'b.txt')).toBe('-');
    expect(marker(f, 'c.txt')).toBe('+');
    expect(marker(f, 'notes.md')).toBe('');
    await press(app, 'f');
    f = await waitFor(app, '(changes only)');
    expect(f).toContain('1/3 of 4');
    expect(marker(f, 'notes.md')).toBeUndefined();
    // A removed file can still be previewed: it comes from the older snapshot.
    await press(app, 'j', KEY.enter);
    await waitFor(app, 'bravo');
    await press(app, KEY.escape, KEY.backspace);
    f = await waitFor(app, /\d\/3 of 5/);
    expect(marker(f, 'big.dat')).toBeUndefined();
    await press(app, 'g', KEY.enter);
    await waitFor(app, '/code');
    await waitFor(app, '1/1 of 2');
    await press(app, KEY.enter);
    await waitFor(app, '/code/lib');
    f = await waitFor(app, '1/1 of 3');
    expect(marker(f, 'new.ts')).toBe('+');
    expect(cursorLine(f)).toContain('new.ts');
    // Selection is for the browse view: Space explains instead.
    await press(app, ' ');
    await waitFor(app, 'select files in the browse view');
  });

  it('compares with Enter on the second snapshot, older always on the left', async () => {
    const { repo, snaps } = await buildFixture();
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, 'c', 'j', KEY.enter);
    await waitFor(app, `compare ${shortId(snaps[1].id)} → ${shortId(snaps[2].id)}`);
    const f = await waitFor(app, (x) => x.includes('1/5') && !x.includes('comparing'));
    expect(f).toMatch(/\+1 -0 ~0 \*\d+/);
    await press(app, KEY.escape);
    await waitFor(app, '3/3 snapshots');
  });
});
