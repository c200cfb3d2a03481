import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/tui/app.js';
import { tempDir } from '../helpers/fs.js';
import { memoryRepo } from '../helpers/repo.js';
import { buildFixture, buildHugeDirectory, GatedBackend, throughBackend } from './fixtures.js';
import { cursorLine, frame, KEY, lines, press, waitFor } from './render.js';

afterEach(() => cleanup());

describe('large directories and slow backends', () => {
  it('opens and scrolls a directory of 100,000 entries at once, drawing only visible rows', async () => {
    const repo = await memoryRepo();
    await buildHugeDirectory(repo, 100_000);
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, '1/1 snapshot');
    await press(app, KEY.enter);
    await waitFor(app, 'huge/');
    const opened = performance.now();
    await press(app, KEY.enter);
    await waitFor(app, 'file-000000');
    const firstRows = performance.now() - opened;
    let f = await waitFor(app, '1/100,000', 30_000);
    const loaded = performance.now() - opened;
    // Only the window is drawn: 24 rows of terminal, 18 of them for entries.
    expect(lines(f).filter((l) => /file-\d{6}/.test(l))).toHaveLength(18);
    let t = performance.now();
    await press(app, 'G');
    f = await waitFor(app, '100,000/100,000');
    const toEnd = performance.now() - t;
    expect(cursorLine(f)).toContain('file-099999');
    t = performance.now();
    await press(app, KEY.pageUp, KEY.pageUp, 'k');
    f = await waitFor(app, '99,963/100,000');
    const pages = performance.now() - t;
    expect(cursorLine(f)).toContain('file-099962');
    await press(app, '/', '12345');
    f = await waitFor(app, '1/1 of 100,000');
    expect(cursorLine(f)).toContain('file-012345');
    console.log(
      `100k entries: first rows ${firstRows.toFixed(0)} ms, fully loaded ${loaded.toFixed(0)} ms, ` +
        `End ${toEnd.toFixed(0)} ms, 2×PgUp+k ${pages.toFixed(0)} ms`,
    );
    expect(firstRows).toBeLessThan(2000);
    expect(toEnd).toBeLessThan(1000);
    expect(pages).toBeLessThan(1000);
  });

  it('keeps keys working and shows a spinner while a slow backend loads', async () => {
    const fixture = await buildFixture();
    let gated: GatedBackend | undefined;
    const repo = throughBackend(fixture.repo, (b) => {
      gated = new GatedBackend(b);
      return gated;
    });
    const app = render(<App repo={repo} cwd={await tempDir()} />);
    await waitFor(app, 'loading snapshots');
    await press(app, '?');
    await waitFor(app, 'cairn tui: keys');
    await press(app, 'x');
    await waitFor(app, 'loading snapshots');
    gated!.open();
    await waitFor(app, '3/3 snapshots');
    gated!.hold();
    await press(app, KEY.enter);
    let f = await waitFor(app, 'loading 0 entries');
    await press(app, 'j', 's', '?');
    await waitFor(app, 'cairn tui: keys');
    await press(app, KEY.escape);
    f = await waitFor(app, 'sort: size');
    expect(f).toContain('loading 0 entries');
    gated!.open();
    f = await waitFor(app, '1/5');
    expect(frame(app)).not.toContain('loading');
  });
});
