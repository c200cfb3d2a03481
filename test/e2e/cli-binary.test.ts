/**
 * End-to-end: the built `cairn` binary (dist/bin/cairn.js, made by `npm run build`, which
 * `npm test` runs first) in real processes, including a real pseudo-terminal for the
 * progress display.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { cairnBinary } from '../helpers/compiled.js';
import { describeTree, pseudoRandomBytes, tempDir } from '../helpers/fs.js';

const BIN = resolve(process.env.CAIRN_DIST ?? 'dist', 'bin/cairn.js');
const run = promisify(execFile);

async function cairn(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(() => {
  cairnBinary();
});

describe('the cairn binary', () => {
  it('backs up and restores a tree through separate processes, with CAIRN_REPO', async () => {
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    await mkdir(join(src, 'a', 'b'), { recursive: true });
    await writeFile(join(src, 'a', 'b', 'big'), pseudoRandomBytes(2_000_000, 1));
    await writeFile(join(src, 'small'), 'small\n');
    const env = {
      CAIRN_REPO: repo,
      CAIRN_CACHE_DIR: await tempDir(),
      CAIRN_PASSWORD: 'e2e password',
    };
    expect((await cairn(['init'], env)).code).toBe(0);
    const b = await cairn(['backup', src, '--tag', 'first', '--json'], env);
    expect(b.code).toBe(0);
    const lines = b.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ type: 'summary', operation: 'backup', files: 2 });
    const target = await tempDir();
    const r = await cairn(['restore', 'tag:first', '--target', target], env);
    expect(r.code).toBe(0);
    expect(await describeTree(target)).toEqual(await describeTree(src));
    const c = await cairn(['check', '--read-data'], env);
    expect(c.code).toBe(0);
    // Node's own warnings (deprecations, MaxListenersExceededWarning) reach the terminal.
    for (const { stderr } of [b, r, c]) expect(stderr).not.toMatch(/Warning/);
  });

  it('reads with either zstd engine what the other wrote (CAIRN_ZSTD)', async () => {
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    const text = Array.from({ length: 20_000 }, (_, i) => `entry ${i} of the log\n`).join('');
    await writeFile(join(src, 'log.txt'), text);
    await writeFile(join(src, 'noise'), pseudoRandomBytes(300_000, 4));
    const env = { CAIRN_REPO: repo, CAIRN_CACHE_DIR: await tempDir(), CAIRN_PASSWORD: 'pw' };
    expect((await cairn(['init', '--compression', 'auto'], env)).code).toBe(0);
    for (const [writer, reader] of [
      ['wasm', 'native'],
      ['native', 'wasm'],
    ] as const) {
      await writeFile(join(src, 'log.txt'), `${writer}\n${text}`);
      const b = await cairn(['backup', src, '--tag', writer], { ...env, CAIRN_ZSTD: writer });
      expect(b.code, b.stderr).toBe(0);
      const target = await tempDir();
      const r = await cairn(['restore', `tag:${writer}`, '--target', target], {
        ...env,
        CAIRN_ZSTD: reader,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(await describeTree(target)).toEqual(await describeTree(src));
    }
    const stats = await cairn(['stats', '--json'], env);
    const { dataBytes } = JSON.parse(stats.stdout.trim().split('\n').at(-1)!) as {
      dataBytes: number;
    };
    // the noise once, the log twice (two versions), compressed
    expect(dataBytes).toBeGreaterThan(300_000);
    expect(dataBytes).toBeLessThan(300_000 + text.length / 2);
    const bad = await cairn(['snapshots'], { ...env, CAIRN_ZSTD: 'fastest' });
    // snapshots opens no compressed object; a backup with compression does
    expect(bad.code).toBe(0);
    const refused = await cairn(['backup', src], { ...env, CAIRN_ZSTD: 'fastest' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/CAIRN_ZSTD must be native, wasm or unset, not "fastest"/);
  });

  it('reports usage errors with exit code 2 and a missing repository with 1', async () => {
    const u = await cairn(['backup']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/backup needs at least one path/);
    const m = await cairn(['--repo', join(await tempDir(), 'nothing'), 'snapshots']);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/no cairn repository at/);
  });

  it('shows a progress line on a terminal, and none when piped', async () => {
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    for (let i = 0; i < 40; i++) await writeFile(join(src, `f${i}`), pseudoRandomBytes(400_000, i));
    expect((await cairn(['--repo', repo, 'init', '--no-encryption'])).code).toBe(0);
    // `script` gives the child a real pseudo-terminal; its output is what the terminal saw.
    const typescript = execFileSync(
      'script',
      ['-qec', `${process.execPath} ${BIN} --repo ${repo} backup ${src}`, '/dev/null'],
      {
        encoding: 'utf8',
        env: { ...process.env, CAIRN_CACHE_DIR: await tempDir(), COLUMNS: '120' },
      },
    );
    expect(typescript).toMatch(/\r\x1b\[K.*files.*\/s/);
    expect(typescript).toMatch(/snapshot [0-9a-f]{8} saved/);
    const piped = await cairn(['--repo', repo, 'backup', src]);
    expect(piped.stderr).not.toMatch(/\x1b\[K/);
  });
});
