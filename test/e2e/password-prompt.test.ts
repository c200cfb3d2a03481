/**
 * End-to-end: passwords typed at a real terminal (tmux; see helpers/terminal.ts). A new
 * repository's password is asked twice, as `key add` asks for a new slot's: a typo in
 * the only password of a repository could never be corrected.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/fs.js';
import { BIN, cairnBin, requireBinary } from '../helpers/reliability.js';
import { requireTmux, Terminal } from '../helpers/terminal.js';

let terminal: Terminal | undefined;
afterEach(() => {
  terminal?.kill();
  terminal = undefined;
});
beforeAll(() => {
  requireTmux();
  requireBinary();
});

/** Runs `cairn init` for `repo` in a terminal, no password in the environment. */
async function initAtTerminal(repo: string): Promise<Terminal> {
  const t = new Terminal();
  terminal = t;
  const command = `env -u CAIRN_PASSWORD -u CAIRN_REPO ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} init --repo ${JSON.stringify(repo)}; echo "exit=$?"; sleep 600`;
  t.start(command, await tempDir(), 100, 20);
  await t.waitFor('repository password:');
  return t;
}

/** Types the password and, at the second prompt, its confirmation. */
async function typeTwice(t: Terminal, first: string, second: string): Promise<void> {
  t.type(first);
  t.keys('Enter');
  await t.waitFor('repository password again:');
  t.type(second);
  t.keys('Enter');
}

describe('init at a terminal', () => {
  it('asks for the password twice and refuses two that differ, creating nothing', async () => {
    const repo = join(await tempDir(), 'repo');
    const t = await initAtTerminal(repo);
    await typeTwice(t, 'first-try', 'frist-try');
    const screen = await t.waitFor('exit=');
    expect(screen).toContain('the two passwords differ');
    expect(screen).toContain('exit=2');
    expect(screen).not.toContain('try'); // nothing typed is echoed
    expect(existsSync(join(repo, 'config'))).toBe(false);
  });

  it('creates the repository with the password typed twice', async () => {
    const repo = join(await tempDir(), 'repo');
    const t = await initAtTerminal(repo);
    await typeTwice(t, 'correct horse', 'correct horse');
    expect(await t.waitFor('exit=')).toContain('exit=0');
    const opened = await cairnBin(['snapshots', '--repo', repo], {
      CAIRN_PASSWORD: 'correct horse',
    });
    expect(opened.code, opened.stderr).toBe(0);
  });
});
