/**
 * End-to-end: `cairn tui` from the built binary in a real terminal. tmux runs it in a
 * detached session on a private socket; keys go in with send-keys and the screen comes
 * back with capture-pane. Every step polls the screen for what it expects (never a
 * fixed sleep), and the tmux server is killed after each test.
 *
 * The binary is dist/bin/cairn.js (`npm test` builds it first). If the TUI sources are
 * newer than their build, the build is run here so the test never checks stale code.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shortId } from '../../src/core/ids.js';
import { tempDir } from '../helpers/fs.js';
import { requireTmux, Terminal } from '../helpers/terminal.js';
import { buildFixture } from '../tui/fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'dist/bin/cairn.js');
const BUILT = [join(ROOT, 'dist/tui/index.js'), join(ROOT, 'dist/cli/commands/tui.js'), BIN];

/** Newest modification time (ms) of the files below `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

beforeAll(async () => {
  requireTmux();
  const sources = Math.max(newest(join(ROOT, 'src/tui')), newest(join(ROOT, 'src/cli')));
  const stale = BUILT.some((f) => !existsSync(f) || statSync(f).mtimeMs < sources);
  if (!stale) return;
  let output = '';
  try {
    await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      timeout: 170_000,
    });
  } catch (err) {
    // tsc reports type errors elsewhere in the tree but still writes the files.
    output = String((err as { stdout?: string }).stdout ?? err).slice(0, 2000);
  }
  // The binary is a bundle of what tsc wrote (scripts/bundle-cli.mjs).
  await promisify(execFile)('node', ['scripts/bundle-cli.mjs'], { cwd: ROOT, timeout: 60_000 });
  const missing = BUILT.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new Error(
      `cairn is not built (${missing.join(', ')} missing): run \`npm run build\` ` +
        `(npm test builds first).\n${output}`,
    );
  }
}, 180_000);

let term: Terminal | undefined;
afterEach(() => {
  term?.kill();
  term = undefined;
});

const shq = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Runs `cairn tui --repo dir` in a terminal. CI=true shows the TUI draws even there. */
async function startTui(repoDir: string, cwd: string, width: number, height: number) {
  const t = new Terminal();
  term = t;
  const cacheDir = await tempDir();
  const cmd =
    `env CI=true CAIRN_CACHE_DIR=${shq(cacheDir)} LANG=C.UTF-8 ${shq(process.execPath)} ${shq(BIN)} ` +
    `tui --repo ${shq(repoDir)}; echo "cairn exited with $?"; sleep 600`;
  t.start(cmd, cwd, width, height);
  return t;
}

/** Every file below `dir`, relative, sorted. */
async function filesBelow(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesBelow(join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

describe('cairn tui in a real terminal', () => {
  it('opens a snapshot, walks into a directory, selects files and restores them', async () => {
    const { dir, snaps, files } = await buildFixture();
    const cwd = await tempDir();
    const t = await startTui(dir, cwd, 100, 30);
    let s = await t.waitFor('3/3 snapshots');
    for (const snap of snaps) expect(s).toContain(shortId(snap.id));
    expect(s).toMatch(/> \s*\S+ .*beta\s+nightly/);
    expect(s).toMatch(/alpha\s+release,v2/);

    const id = shortId(snaps[2].id);
    t.keys('Enter');
    s = await t.waitFor((x) => x.includes(`${id}:/`) && x.includes('1/5'));
    expect(s).toMatch(/Name\*\s+Size\s+Modified\s+Mode/);
    expect(s).toMatch(/\[ \] big\.dat\s+195 KiB\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+-rw-r--r--/);

    t.keys('j', 'j');
    await t.waitFor(/^> \[ \] docs\//m);
    t.keys('Enter');
    await t.waitFor((x) => x.includes(`${id}:/docs`) && x.includes('1/3'));
    t.keys('Space');
    await t.waitFor('selected: 1 file');
    t.keys('Space');
    s = await t.waitFor('selected: 2 files');
    expect(s).toMatch(/\[x\] a\.txt/);
    expect(s).toMatch(/\[x\] c\.txt/);
    expect(s).toMatch(/\[ \] notes\.md/);
    t.keys('BSpace');
    s = await t.waitFor(/^> \[-\] docs\//m);
    t.keys('k');
    await t.waitFor(/^> \[ \] code\//m);
    t.keys('Space');
    s = await t.waitFor('selected: 6 files');
    expect(s).toMatch(/\[x\] code\//);

    t.keys('r');
    s = await t.waitFor('Restore from snapshot');
    expect(s).toContain(`Target: ./cairn-restore-${id}`);
    expect(s).toContain('What: 6 files');
    t.keys('Enter');
    s = await t.waitFor('Restore finished');
    expect(s).toMatch(/Restore finished: 6 files/);
    const target = join(cwd, `cairn-restore-${id}`);
    expect(s).toContain(target);

    const restored = [
      'code/lib/deep.ts',
      'code/lib/new.ts',
      'code/lib/util.ts',
      'code/main.ts',
      'docs/a.txt',
      'docs/c.txt',
    ];
    expect(await filesBelow(target)).toEqual(restored);
    for (const p of restored) {
      const bytes = await readFile(join(target, p));
      expect(bytes.equals(files[p]!), `${p} differs from the snapshot`).toBe(true);
    }

    t.keys('Enter');
    await t.waitFor('selected: 6 files');
    t.keys('q');
    s = await t.waitFor('cairn exited with 0');
    // The alternate screen is gone: the shell's screen is back.
    expect(s).not.toContain('selected: 6 files');
  }, 120_000);

  it('follows a resize, shows help, compares two snapshots and quits', async () => {
    const { dir, snaps } = await buildFixture();
    const t = await startTui(dir, await tempDir(), 120, 30);
    let s = await t.waitFor('3/3 snapshots');
    t.tmux('resize-window', '-t', 'e2e', '-x', '70', '-y', '16');
    s = await t.waitFor((x) => x.split('\n')[13]?.includes('3/3 snapshots') ?? false);
    expect(s.split('\n')[14]).toContain('Enter browse');

    t.keys('?');
    await t.waitFor('cairn tui: keys');
    t.keys('x');
    await t.waitFor('3/3 snapshots');

    t.tmux('resize-window', '-t', 'e2e', '-x', '110', '-y', '30');
    await t.waitFor((x) => x.split('\n')[27]?.includes('3/3 snapshots') ?? false);
    t.keys('G', 'c');
    await t.waitFor(`compare from ${shortId(snaps[0].id)}`);
    t.keys('g', 'c');
    s = await t.waitFor(
      (x) =>
        x.includes(`compare ${shortId(snaps[0].id)} → ${shortId(snaps[2].id)}`) &&
        /\+2 -1 ~1/.test(x),
    );
    expect(s).toMatch(/ ~ {2}docs\//);
    expect(s).toMatch(/ \* {2}readme\.txt/);
    t.keys('j', 'j', 'Enter');
    s = await t.waitFor((x) => x.includes('/docs') && x.includes('1/4'));
    expect(s).toMatch(/ - {2}b\.txt/);
    expect(s).toMatch(/ \+ {2}c\.txt/);
    t.keys('f');
    await t.waitFor('1/3 of 4');
    t.keys('q');
    await t.waitFor('cairn exited with 0');
  }, 120_000);

  it('ends on SIGTERM with exit code 130, giving the shell its screen back', async () => {
    const { dir } = await buildFixture();
    const t = await startTui(dir, await tempDir(), 100, 30);
    await t.waitFor('3/3 snapshots');
    expect(t.tmux('display', '-p', '-t', 'e2e', '#{alternate_on}').trim()).toBe('1');
    // The node process running this repository's TUI (not the shell around it).
    const pid = execFileSync('ps', ['-eo', 'pid=,comm=,args='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find(
        ([, comm, ...args]) => comm === 'node' && args.join(' ').includes(`tui --repo ${dir}`),
      )?.[0];
    expect(pid).toBeDefined();
    process.kill(Number(pid), 'SIGTERM');
    await t.waitFor('cairn exited with 130');
    expect(t.tmux('display', '-p', '-t', 'e2e', '#{alternate_on}').trim()).toBe('0');
  }, 60_000);

  it('ends on Ctrl-C with exit code 130, giving the shell its screen back', async () => {
    const { dir } = await buildFixture();
    const t = await startTui(dir, await tempDir(), 100, 30);
    await t.waitFor('3/3 snapshots');
    t.keys('C-c');
    await t.waitFor('cairn exited with 130');
    expect(t.screen()).toContain('cairn: interrupted');
    expect(t.tmux('display', '-p', '-t', 'e2e', '#{alternate_on}').trim()).toBe('0');
  }, 60_000);
});
