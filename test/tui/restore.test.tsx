import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { shortId } from '../../src/core/ids.js';
import { backup } from '../../src/ops/backup.js';
import { App } from '../../src/tui/app.js';
import { describeTree, pseudoRandomBytes, tempDir, writeTree } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';
import { buildFixture, SlowDataBackend, throughBackend } from './fixtures.js';
import { frame, KEY, press, waitFor } from './render.js';

afterEach(() => cleanup());

/** Opens the newest snapshot's root. */
async function openNewest(app: ReturnType<typeof render>) {
  await waitFor(app, '3/3 snapshots');
  await press(app, KEY.enter);
  await waitFor(app, '1/5');
}

describe('restore dialog', () => {
  it('restores selected files and a directory into a new directory beside the current one', async () => {
    const { repo, snaps, files } = await buildFixture();
    const cwd = await tempDir();
    const app = render(<App repo={repo} cwd={cwd} />);
    await openNewest(app);
    // code/ (whole), then docs/a.txt and docs/notes.md
    await press(app, 'j', ' ', KEY.enter);
    await waitFor(app, '/docs');
    await waitFor(app, '1/3');
    await press(app, ' ', 'j', 'j', ' ');
    await waitFor(app, 'selected: 6 files');
    await press(app, 'r');
    const name = `cairn-restore-${shortId(snaps[2].id)}`;
    let f = await waitFor(app, 'Restore from snapshot');
    expect(f).toContain(`Target: ./${name}`);
    expect(f).toContain('What: 6 files');
    expect(f).toContain('(•) replace if different');
    await press(app, KEY.enter);
    f = await waitFor(app, 'Restore finished');
    expect(f).toContain('6 files');
    expect(f).toContain(`Restored to ${join(cwd, name)}`);
    const target = join(cwd, name);
    for (const p of [
      'code/main.ts',
      'code/lib/util.ts',
      'code/lib/deep.ts',
      'code/lib/new.ts',
      'docs/a.txt',
      'docs/notes.md',
    ]) {
      expect(await readFile(join(target, p)), p).toEqual(files[p]);
    }
    expect((await readdir(join(target, 'docs'))).sort()).toEqual(['a.txt', 'notes.md']);
    expect((await readdir(target)).sort()).toEqual(['code', 'docs']);
    await press(app, KEY.enter);
    f = await waitFor(app, 'selected: 6 files');
    // A second restore gets a fresh default directory.
    await press(app, 'r');
    await waitFor(app, `Target: ./${name}-2`);
    await press(app, KEY.escape);
    await waitFor(app, 'selected: 6 files');
  });

  it('restores a whole snapshot from the list, identical to the source', async () => {
    const { repo, src } = await buildFixture();
    const cwd = await tempDir();
    const app = render(<App repo={repo} cwd={cwd} />);
    await waitFor(app, '3/3 snapshots');
    await press(app, 'r');
    await waitFor(app, 'What: the whole snapshot');
    await press(app, KEY.ctrlU, 'out/all', KEY.enter);
    const f = await waitFor(app, 'Restore finished');
    expect(f).toContain(`Restored to ${join(cwd, 'out/all')}`);
    expect(await describeTree(join(cwd, 'out/all'))).toEqual(await describeTree(src));
    await press(app, KEY.escape);
    await waitFor(app, '3/3 snapshots');
  });

  it('replaces changed files, keeps identical ones, or skips existing files', async () => {
    const { repo, files } = await buildFixture();
    const cwd = await tempDir();
    await mkdir(join(cwd, 'into', 'docs'), { recursive: true });
    await writeFile(join(cwd, 'into', 'docs', 'a.txt'), 'mine');
    const app = render(<App repo={repo} cwd={cwd} />);
    await openNewest(app);
    await press(app, 'j', 'j', ' ', 'r');
    let f = await waitFor(app, 'What: 3 files');
    expect(f).toContain('(•) replace if different  ( ) always replace  ( ) skip existing');
    await press(app, KEY.ctrlU, 'into', KEY.tab, KEY.left);
    await waitFor(app, '(•) skip existing');
    await press(app, KEY.enter);
    f = await waitFor(app, 'Restore finished');
    expect(f).toContain('Skipped 1 existing file');
    expect(await readFile(join(cwd, 'into', 'docs', 'a.txt'), 'utf8')).toBe('mine');
    expect(await readFile(join(cwd, 'into', 'docs', 'c.txt'))).toEqual(files['docs/c.txt']);
    expect(await readFile(join(cwd, 'into', 'docs', 'notes.md'))).toEqual(files['docs/notes.md']);
    // The default replaces the different file and leaves the identical ones alone.
    await press(app, KEY.enter, 'r', KEY.ctrlU, 'into', KEY.enter);
    f = await waitFor(app, 'Restore finished');
    expect(f).toContain('2 files already up to date');
    expect(f).not.toContain('Skipped');
    expect(await readFile(join(cwd, 'into', 'docs', 'a.txt'))).toEqual(files['docs/a.txt']);
    // Always replace rewrites everything.
    await press(app, KEY.enter, 'r', KEY.ctrlU, 'into', KEY.tab, KEY.right);
    await waitFor(app, '(•) always replace');
    await press(app, KEY.enter);
    f = await waitFor(app, 'Restore finished: 3 files');
    expect(f).not.toContain('already up to date');
  });

  it('shows live progress and cancels with Esc, leaving no partial file', async () => {
    // 80 files of two chunks each, every chunk read taking 150 ms: about 1.5 s in all.
    const { repo: fast } = await localRepo({
      chunker: { min: 1024, avg: 4096, max: 16384, level: 1 },
    });
    const src = await tempDir();
    const many: Record<string, Buffer> = {};
    for (let i = 0; i < 80; i++)
      many[`f${String(i).padStart(2, '0')}`] = pseudoRandomBytes(6000, i);
    await writeTree(src, { many });
    await backup(fast, { paths: [src], statCacheDir: false });
    const repo = throughBackend(fast, (b) => new SlowDataBackend(b, 150));
    const cwd = await tempDir();
    const app = render(<App repo={repo} cwd={cwd} />);
    await waitFor(app, '1/1 snapshot');
    await press(app, KEY.enter);
    await waitFor(app, '1/1');
    // many/ is under the cursor; with nothing selected, r restores it.
    await press(app, 'r');
    let f = await waitFor(app, 'What: /many');
    await press(app, KEY.ctrlU, 'slow', KEY.enter);
    f = await waitFor(app, (x) => /ETA \d+:\d\d/.test(x) && /[1-9]\d* \/ 80 files/.test(x));
    expect(f).toMatch(/\d+%/);
    expect(f).toMatch(/\d+(\.\d)? KiB \/ 469 KiB/);
    expect(f).toMatch(/\d+(\.\d)? KiB\/s/);
    expect(f).toContain('Esc cancel');
    await press(app, KEY.escape);
    f = await waitFor(app, 'Restore cancelled');
    expect(f).toContain(join(cwd, 'slow'));
    // Says how to finish (the text may wrap inside the box).
    expect(f.replace(/[│╭╮╰╯─]/g, ' ').replace(/\s+/g, ' ')).toContain(
      'restoring there again finishes it',
    );
    // Files written before the cancel are whole; temporary files are removed.
    const dir = join(cwd, 'slow', 'many');
    const deadline = Date.now() + 5000;
    let names = await readdir(dir);
    while (names.some((n) => n.startsWith('.cairn-tmp')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      names = await readdir(dir);
    }
    expect(names.filter((n) => n.startsWith('.cairn-tmp'))).toEqual([]);
    expect(names.length).toBeLessThan(80);
    for (const n of names) expect(await readFile(join(dir, n)), n).toEqual(many[n]);
    await press(app, KEY.enter);
    await waitFor(app, '1/1');
  });

  it('shows why a restore failed', async () => {
    const { repo } = await buildFixture();
    const cwd = await tempDir();
    await writeFile(join(cwd, 'occupied'), 'a file, not a directory');
    const app = render(<App repo={repo} cwd={cwd} />);
    await openNewest(app);
    await press(app, 'r', KEY.ctrlU, 'occupied', KEY.enter);
    const f = await waitFor(app, 'Restore failed');
    expect(f).toMatch(/EEXIST|ENOTDIR|exists|not a directory/);
    expect((await stat(join(cwd, 'occupied'))).isFile()).toBe(true);
    expect(frame(app)).toContain('Enter close');
  });
});
