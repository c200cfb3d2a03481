/**
 * End-to-end: `cairn backup --stdin` reads what is piped into the built CLI (as
 * `pg_dump | cairn backup --stdin --stdin-filename db.sql` would), and `restore` gives
 * it back byte-exact; a terminal on standard input is refused rather than waited on
 * (tmux), and so are `--stdin` with paths and `--stdin-filename` without `--stdin`.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import {
  BASE_ENV,
  BIN,
  type BinRun,
  cairnBin,
  requireBinary,
  UNENCRYPTED_ENV,
} from '../helpers/reliability.js';
import { runAtTerminal } from '../helpers/terminal.js';

beforeAll(() => {
  requireBinary();
});

/** Runs the CLI with `input` written to its standard input through a pipe. */
function cairnWithInput(args: string[], input: Buffer): Promise<BinRun> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...BASE_ENV, ...UNENCRYPTED_ENV },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // A refused run closes its end early: EPIPE on our side is expected then.
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function newRepo(): Promise<string> {
  const repo = join(await tempDir(), 'repo');
  const init = await cairnBin(['init', '--repo', repo, '--no-encryption'], UNENCRYPTED_ENV);
  expect(init.code, init.stderr).toBe(0);
  return repo;
}

describe('cairn backup --stdin', () => {
  it('stores what is piped in as one file, and restore gives it back', async () => {
    const repo = await newRepo();
    const bytes = pseudoRandomBytes(3 << 20, 11);
    const r = await cairnWithInput(
      ['backup', '--repo', repo, '--stdin', '--stdin-filename', 'db.sql', '--json'],
      bytes,
    );
    expect(r.code, r.stderr).toBe(0);
    const summary = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((e) => e.type === 'summary');
    expect(summary).toMatchObject({ files: 1, bytes: bytes.length, filesNew: 1 });
    const snapshots = await cairnBin(['snapshots', '--repo', repo, '--json'], UNENCRYPTED_ENV);
    expect(snapshots.stdout).toContain('"stdin:db.sql"');
    const target = await tempDir();
    const restored = await cairnBin(
      ['restore', 'latest', '--repo', repo, '--target', target],
      UNENCRYPTED_ENV,
    );
    expect(restored.code, restored.stderr).toBe(0);
    expect((await readFile(join(target, 'db.sql'))).equals(bytes)).toBe(true);
    // Without --stdin-filename the file is called `stdin`.
    const plain = await cairnWithInput(['backup', '--repo', repo, '--stdin'], Buffer.from('x\n'));
    expect(plain.code, plain.stderr).toBe(0);
    const ls = await cairnBin(['ls', 'latest', '--repo', repo], UNENCRYPTED_ENV);
    expect(ls.stdout.trim()).toBe('stdin');
  });

  it('refuses paths with --stdin, and --stdin-filename without it', async () => {
    const repo = await newRepo();
    const src = await tempDir();
    const withPath = await cairnWithInput(
      ['backup', '--repo', repo, '--stdin', src],
      Buffer.from(''),
    );
    expect(withPath.code).toBe(EXIT.usage);
    expect(withPath.stderr).toContain('a backup of standard input takes no paths');
    const nameOnly = await cairnBin(
      ['backup', '--repo', repo, src, '--stdin-filename', 'x'],
      UNENCRYPTED_ENV,
    );
    expect(nameOnly.code).toBe(EXIT.usage);
    expect(nameOnly.stderr).toContain('--stdin-filename is for --stdin');
    const noPath = await cairnBin(['backup', '--repo', repo], UNENCRYPTED_ENV);
    expect(noPath.code).toBe(EXIT.usage);
    expect(noPath.stderr).toContain('backup needs at least one path');
  });

  it('refuses a terminal on standard input instead of waiting for typing', async () => {
    const repo = await newRepo();
    const screen = await runAtTerminal(
      `env CAIRN_PASSWORD= ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} backup --stdin --repo ${JSON.stringify(repo)}`,
    );
    expect(screen).toContain('--stdin: standard input is a terminal');
    expect(screen).toContain(`exit=${EXIT.usage}`);
  });
});

describe('cairn backup --stdin-from-command', () => {
  async function snapshotCount(repo: string): Promise<number> {
    const r = await cairnBin(['snapshots', '--repo', repo, '--json'], UNENCRYPTED_ENV);
    return r.stdout.split('\n').filter((l) => l.includes('"type":"snapshot"')).length;
  }

  it("stores the command's output, and nothing when it fails", async () => {
    const repo = await newRepo();
    const args = ['backup', '--repo', repo, '--stdin-from-command', '--stdin-filename'];
    const ok = await cairnBin(
      [...args, 'out.txt', '--', 'sh', '-c', 'printf hello; printf " world"'],
      UNENCRYPTED_ENV,
    );
    expect(ok.code, ok.stderr).toBe(0);
    const target = await tempDir();
    await cairnBin(['restore', 'latest', '--repo', repo, '--target', target], UNENCRYPTED_ENV);
    expect(await readFile(join(target, 'out.txt'), 'utf8')).toBe('hello world');
    const snapshots = await cairnBin(['snapshots', '--repo', repo, '--json'], UNENCRYPTED_ENV);
    expect(snapshots.stdout).toContain('"stdin:out.txt"');

    // Half a dump, then a failure: refused, nothing saved.
    const failed = await cairnBin(
      [...args, 'out.txt', '--', 'sh', '-c', 'printf partial; exit 3'],
      UNENCRYPTED_ENV,
    );
    expect(failed.code).toBe(EXIT.failure);
    expect(failed.stderr).toContain('sh exited with status 3: its output is not saved');
    const missing = await cairnBin(
      [...args, 'x', '--', 'no-such-program-for-cairn'],
      UNENCRYPTED_ENV,
    );
    expect(missing.code).toBe(EXIT.failure);
    expect(missing.stderr).toContain(
      'cannot run no-such-program-for-cairn: no such file or directory (ENOENT)',
    );
    expect(await snapshotCount(repo)).toBe(1);
  });

  it('stops the command when interrupted, and saves nothing', async () => {
    const repo = await newRepo();
    const dir = await tempDir();
    const pidFile = join(dir, 'pid');
    const child = spawn(
      process.execPath,
      [
        BIN,
        'backup',
        '--repo',
        repo,
        '--stdin-from-command',
        '--',
        'sh',
        '-c',
        `echo $$ > ${pidFile}; printf some; exec sleep 60`,
      ],
      { env: { ...process.env, ...BASE_ENV, ...UNENCRYPTED_ENV }, stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    let pid: number | undefined;
    for (let i = 0; i < 200 && pid === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const text = await readFile(pidFile, 'utf8').catch(() => '');
      if (text.trim() !== '') pid = Number(text.trim());
    }
    expect(pid).toBeGreaterThan(0);
    const stopped = Date.now();
    child.kill('SIGINT');
    expect(await exited).toBe(EXIT.interrupted);
    expect(Date.now() - stopped).toBeLessThan(5000);
    let alive = true;
    for (let i = 0; i < 40 && alive; i++) {
      try {
        process.kill(pid!, 0);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
    expect(await snapshotCount(repo)).toBe(0);
  });

  it('refuses no command, and both --stdin and --stdin-from-command', async () => {
    const repo = await newRepo();
    const none = await cairnBin(
      ['backup', '--repo', repo, '--stdin-from-command'],
      UNENCRYPTED_ENV,
    );
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toContain('--stdin-from-command needs a command');
    const both = await cairnWithInput(
      ['backup', '--repo', repo, '--stdin', '--stdin-from-command', '--', 'true'],
      Buffer.from(''),
    );
    expect(both.code).toBe(EXIT.usage);
    expect(both.stderr).toContain('--stdin and --stdin-from-command: choose one');
  });
});
