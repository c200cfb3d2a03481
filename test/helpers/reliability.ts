/**
 * Helpers for the reliability tests (test/reliability): iteration counts that grow under
 * `STRESS=1`, a seeded generator, the built binary in child processes (to kill them),
 * and checks on restore targets.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { cairnBinary } from './compiled.js';

/** True when the long versions run (`STRESS=1`, see `npm run test:stress`). */
export const STRESS = process.env.STRESS === '1' || process.env.STRESS === 'true';

/**
 * How many iterations a loop runs: `ci` normally, `stress` under STRESS=1, or
 * `STRESS_ITERATIONS` when set (either mode).
 */
export function iterations(ci: number, stress: number): number {
  const forced = Number(process.env.STRESS_ITERATIONS);
  if (Number.isInteger(forced) && forced > 0) return forced;
  return STRESS ? stress : ci;
}

/** Timeout of a looping reliability test: generous in CI (loaded runners), hours under STRESS. */
export const LOOP_TIMEOUT_MS = STRESS ? 6 * 3600_000 : 180_000;

/** The base seed of the random choices (`STRESS_SEED`, default 7), printed on failure. */
export const SEED = Number(process.env.STRESS_SEED ?? 7);

/** A small deterministic generator (mulberry32) returning [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The built CLI (npm test builds it before vitest runs). */
export const BIN = resolve(process.env.CAIRN_DIST ?? 'dist', 'bin/cairn.js');

/** Throws a helpful error when the binary has not been built, or is older than dist/. */
export function requireBinary(): void {
  cairnBinary();
}

/** Result of one finished binary run. */
export interface BinRun {
  code: number;
  stdout: string;
  stderr: string;
}

const execFileP = promisify(execFile);

/**
 * Environment of every binary run: a repository password, so runs work whether `init`
 * encrypts by default or not, and never wait for a prompt.
 */
export const BASE_ENV: NodeJS.ProcessEnv = { CAIRN_PASSWORD: 'reliability-tests' };

/**
 * What runs on an unencrypted repository add to BASE_ENV: no password, since one given
 * for an unencrypted repository is refused (docs/security.md › No silent downgrade).
 */
export const UNENCRYPTED_ENV: NodeJS.ProcessEnv = { CAIRN_PASSWORD: '' };

/** Runs `cairn ...args` to completion in a child process. */
export async function cairnBin(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: { uid?: number; gid?: number } = {},
): Promise<BinRun> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...BASE_ENV, ...env },
      maxBuffer: 64 << 20,
      ...options,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number | string; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Starts `cairn ...args` and returns the child (to be killed) and its completion. */
export function startCairn(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null }> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...BASE_ENV, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; signal: string | null }>((res) => {
    child.on('exit', (code, signal) => {
      if (code !== null && code !== 0 && code !== 3) {
        process.stderr.write(`cairn ${args.join(' ')} exited ${code}: ${stderr}\n`);
      }
      res({ code, signal });
    });
  });
  return { child, done };
}

/** What `interruptCairn` saw. */
export interface Interrupted {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Whether `when` held before the process ended (so the SIGINT was sent). */
  signalled: boolean;
}

/**
 * Runs `cairn ...args` with its output piped and sends it one SIGINT as soon as
 * `when(stdout so far)` holds (once: a second Ctrl-C stops cairn at once, as if it had
 * no handler); resolves when it has exited.
 */
export function interruptCairn(
  args: string[],
  env: NodeJS.ProcessEnv,
  when: (stdout: string) => boolean,
  as: { uid?: number; gid?: number } = {},
): Promise<Interrupted> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...BASE_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  const seen: Interrupted = { code: null, stdout: '', stderr: '', signalled: false };
  child.stderr.on('data', (d: Buffer) => {
    seen.stderr += d.toString();
  });
  child.stdout.on('data', (d: Buffer) => {
    seen.stdout += d.toString();
    if (!seen.signalled && when(seen.stdout)) {
      seen.signalled = true;
      child.kill('SIGINT');
    }
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      seen.code = code;
      resolve(seen);
    }),
  );
}

/** Waits `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Name prefix of the temporary files restore creates. */
export const RESTORE_TEMP = '.cairn-tmp-';

/**
 * Every regular file below `dir` (relative path -> size and SHA-256 of its bytes),
 * skipping restore temp files. (Digests, because deep equality of large Buffers is slow.)
 */
export async function readFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (abs: string, rel: string) => {
    for (const name of (await readdir(abs)).sort()) {
      if (name.startsWith(RESTORE_TEMP)) continue;
      const p = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      if (st.isDirectory()) await visit(p, r);
      else if (st.isFile()) out.set(r, digest(await readFile(p)));
    }
  };
  await visit(dir, '');
  return out;
}

/** `size:sha256` of some bytes. */
export function digest(bytes: Uint8Array): string {
  return `${bytes.length}:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Problems with a (possibly interrupted) restore target: every non-temporary file must
 * be a file of `expected` with exactly its bytes. Returns a list of problems (empty: ok).
 */
export async function halfWrittenFiles(
  target: string,
  expected: Map<string, string>,
): Promise<string[]> {
  const problems: string[] = [];
  if (!existsSync(target)) return problems;
  for (const [rel, got] of await readFiles(target)) {
    const want = expected.get(rel);
    if (!want) problems.push(`${rel}: not in the snapshot`);
    else if (want !== got) problems.push(`${rel}: holds ${got}, the snapshot ${want}`);
  }
  return problems;
}

/** Names of restore temporary files left below `dir`. */
export async function tempFilesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (abs: string) => {
    for (const e of await readdir(abs, { withFileTypes: true })) {
      if (e.name.startsWith(RESTORE_TEMP)) out.push(join(abs, e.name));
      else if (e.isDirectory()) await visit(join(abs, e.name));
    }
  };
  if (existsSync(dir)) await visit(dir);
  return out;
}
