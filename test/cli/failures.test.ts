/**
 * How the CLI ends a command that fails: a message naming the path and the cause (no
 * stack trace), the `--json` error event (also for usage errors the argument parser
 * finds), the exit code, and a reader closing the pipe (`cairn ls | head`).
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { ReadOnlyBackend } from '../../src/backends/readonly.js';
import { EXIT } from '../../src/cli/context.js';
import { describeFailure, failureText } from '../../src/cli/failure.js';
import { NotFoundError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import { openRepositoryIn } from '../../src/repo/repository.js';
import { cli } from '../helpers/cli.js';
import { cairnBinary } from '../helpers/compiled.js';
import { tempDir } from '../helpers/fs.js';

/** A repository with one snapshot of `files` small files. */
async function repoWithSnapshot(files = 3) {
  process.env.CAIRN_CACHE_DIR = await tempDir();
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  for (let i = 0; i < files; i++) writeFileSync(join(src, `file-${i}.txt`), `content ${i}\n`);
  expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
  expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
  return { repo, src };
}

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe('failures on the command line', () => {
  it('a path that is not in the snapshot is quoted escaped, on one line', async () => {
    const { repo } = await repoWithSnapshot();
    const target = await tempDir();
    for (const args of [
      ['ls', 'latest', 'no\nsuch'],
      ['restore', 'latest', '--target', target, '--include', 'no\nsuch'],
    ]) {
      const r = await cli('--repo', repo, ...args);
      expect(r.code).toBe(EXIT.failure);
      expect(r.stderr).toMatch(/^cairn: no\\nsuch is not in snapshot \w+\n$/);
    }
  });

  it('a restore target that is a file: a usage error naming it, dry run or not', async () => {
    const { repo } = await repoWithSnapshot();
    const file = join(await tempDir(), 'a-file');
    writeFileSync(file, 'x');
    for (const extra of [[], ['--dry-run']]) {
      const r = await cli('--repo', repo, 'restore', 'latest', '--target', file, ...extra);
      expect(r.code, r.stderr).toBe(EXIT.usage);
      expect(r.stderr).toContain(`restore target ${file} exists and is not a directory`);
      noStack(r.stderr);
    }
    const j = await cli('--repo', repo, '--json', 'restore', 'latest', '--target', file);
    expect(j.json.at(-1)).toMatchObject({ type: 'error', code: 'usage' });
    const dangling = join(await tempDir(), 'link');
    symlinkSync(join(await tempDir(), 'missing'), dangling);
    const d = await cli('--repo', repo, 'restore', 'latest', '--target', dangling);
    expect(d.code).toBe(EXIT.usage);
    expect(d.stderr).toContain('is a symbolic link to nothing');
  });

  it.runIf(process.platform === 'linux')(
    'a file system error: the path and the cause, code io in --json, no stack',
    async () => {
      const { repo } = await repoWithSnapshot();
      // procfs refuses to make a folder: ENOENT under an existing parent.
      const target = '/proc/cairn-no-such-dir';
      const r = await cli('--repo', repo, '--json', 'restore', 'latest', '--target', target);
      expect(r.code).toBe(EXIT.failure);
      expect(r.stderr).toContain(`cannot mkdir ${target}: no such file or directory (ENOENT)`);
      noStack(r.stderr);
      expect(r.json.at(-1)).toMatchObject({
        type: 'error',
        code: 'io',
        errno: 'ENOENT',
        path: target,
      });
    },
  );

  it('usage errors of the argument parser end --json output with an error event', async () => {
    const r = await cli('--json', 'backup', '--no-such-option');
    expect(r.code).toBe(EXIT.usage);
    expect(r.json.at(-1)).toMatchObject({ type: 'error', code: 'usage' });
    expect(String(r.json.at(-1)?.message)).toContain('--no-such-option');
    const text = await cli('backup', '--no-such-option');
    expect(text.stdout).toBe('');
  });

  it('describes errors: cairn codes as they are, errno errors by path, bugs by message', () => {
    expect(describeFailure(new NotFoundError('x', 'no x'))).toMatchObject({
      code: 'not-found',
      message: 'no x',
    });
    const e = Object.assign(new Error('EXDEV: cross-device link not permitted'), {
      code: 'EXDEV',
      syscall: 'rename',
      path: '/a/b',
      dest: '/c/d',
    });
    expect(describeFailure(e)).toEqual({
      code: 'io',
      errno: 'EXDEV',
      path: '/a/b',
      message: 'cannot rename /a/b -> /c/d: on another file system (EXDEV)',
      internal: false,
    });
    const bug = new TypeError('x is not a function');
    const f = describeFailure(bug);
    expect(f).toMatchObject({ code: 'internal', internal: true });
    expect(failureText(f, bug, false)).toBe(
      'internal error: x is not a function (run with CAIRN_DEBUG=1 to see where)',
    );
    expect(failureText(f, bug, true)).toContain('\n    at ');
  });
});

describe('refused before any work', () => {
  it('a restore seed that is missing or not a directory', async () => {
    const { repo } = await repoWithSnapshot();
    const target = await tempDir();
    const file = join(await tempDir(), 'a-file');
    writeFileSync(file, 'x');
    const missing = await cli(
      '--repo',
      repo,
      'restore',
      'latest',
      '--target',
      target,
      '--seed',
      join(target, 'nope'),
    );
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toContain('no such directory');
    const notDir = await cli(
      '--repo',
      repo,
      'restore',
      'latest',
      '--target',
      target,
      '--seed',
      file,
    );
    expect(notDir.code).toBe(EXIT.usage);
    expect(notDir.stderr).toContain('is not a directory');
    expect(readdirSync(target)).toEqual([]);
  });

  it('a backup into a read-only repository, before reading a file', async () => {
    const { repo: dir, src } = await repoWithSnapshot();
    const repo = await openRepositoryIn(new ReadOnlyBackend(new LocalBackend(dir)));
    const events: string[] = [];
    await expect(
      backup(repo, { paths: [src], onEvent: (e) => events.push(e.type) }),
    ).rejects.toMatchObject({ code: 'usage' });
    expect(events).toEqual([]);
    await repo.close();
  });
});

describe('two repositories', () => {
  it('a wrong password names the repository it is for (sync opens two)', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const src = join(await tempDir(), 'src');
    const dst = join(await tempDir(), 'dst');
    process.env.CAIRN_PASSWORD = 'source password';
    expect((await cli('--repo', src, 'init')).code).toBe(0);
    process.env.CAIRN_FROM_PASSWORD = 'source password';
    expect((await cli('--repo', dst, 'init', '--copy-params-from', src)).code).toBe(0);
    process.env.CAIRN_FROM_PASSWORD = 'not the source password';
    const r = await cli('sync', src, dst);
    delete process.env.CAIRN_FROM_PASSWORD;
    delete process.env.CAIRN_PASSWORD;
    expect(r.code).toBe(EXIT.failure);
    expect(r.stderr).toContain(`cairn: ${src}: wrong password`);
  });
});

describe('a reader that closes the pipe', () => {
  const BIN = cairnBinary();

  /** Runs the built CLI and closes its stdout after the first output. */
  function runAndClose(args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', (code) => done({ code, stderr }));
    });
  }

  /** Runs the built CLI and closes its stderr after the first line there. */
  function runAndCloseStderr(args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.once('data', (d) => {
        stderr += d;
        child.stderr.destroy();
      });
      child.on('close', (code) => done({ code, stderr }));
    });
  }

  it('a closed stderr stops a restore with 141 too, leaving no lock or temporary file', async () => {
    // Every directory of the snapshot meets a file in the way: a warning each, on stderr.
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    const target = await tempDir();
    for (let i = 0; i < 1500; i++) {
      mkdirSync(join(src, `d-${i}`));
      writeFileSync(join(src, `d-${i}`, 'f'), `content ${i}\n`);
      writeFileSync(join(target, `d-${i}`), 'in the way\n');
    }
    writeFileSync(join(src, 'z-last'), 'last\n');
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    const r = await runAndCloseStderr(['--repo', repo, 'restore', 'latest', '--target', target]);
    expect(r.stderr).toMatch(/^warning: /);
    expect(r.code).toBe(EXIT.brokenPipe);
    expect(readdirSync(join(repo, 'locks')).filter((n) => !n.startsWith('.'))).toEqual([]);
    expect(readdirSync(target).filter((n) => n.startsWith('.cairn-tmp'))).toEqual([]);
  }, 60_000);

  it.runIf(existsSync('/dev/full'))(
    'a stdout that cannot be written (a full disk) is an error, exit 1',
    async () => {
      const { repo } = await repoWithSnapshot(20);
      for (const args of [
        ['ls', 'latest'],
        ['--json', 'snapshots'],
      ]) {
        const full = openSync('/dev/full', 'w');
        const r = spawnSync(process.execPath, [BIN, '--repo', repo, ...args], {
          stdio: ['ignore', full, 'pipe'],
          encoding: 'utf8',
        });
        closeSync(full);
        expect(r.status).toBe(EXIT.failure);
        expect(r.stderr).toContain('cannot write to stdout');
      }
    },
  );

  it('stops ls and backup quietly with 141, leaving no lock', async () => {
    const { repo, src } = await repoWithSnapshot(6000);
    const ls = await runAndClose(['--repo', repo, 'ls', 'latest']);
    expect(ls.stderr).toBe('');
    expect(ls.code).toBe(EXIT.brokenPipe);
    mkdirSync(join(src, 'more'));
    for (let i = 0; i < 3000; i++) writeFileSync(join(src, 'more', `m-${i}`), `more ${i}\n`);
    const b = await runAndClose(['--repo', repo, 'backup', '--verbose', src]);
    expect(b.stderr).not.toMatch(/Unhandled|EPIPE/);
    expect(b.code).toBe(EXIT.brokenPipe);
    expect(readdirSync(join(repo, 'locks')).filter((n) => !n.startsWith('.'))).toEqual([]);
  }, 60_000);
});
