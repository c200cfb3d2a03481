/**
 * Real shells for the completion tests: bash (part of the system), zsh and fish, and
 * the bash-completion package (to check that the bash script works alongside it), from
 * Debian's packages. What is missing is installed with apt-get when the tests run as
 * root, as test/helpers/nginx.ts does for nginx (running `apt-get update` and trying
 * again when the first install fails on a stale package list); otherwise, or when the
 * install fails, the shell is reported missing with the reason, for the tests to skip.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What the completion tests need beyond bash. */
export type ExtraShell = 'zsh' | 'fish' | 'bash-completion';

/** The Debian package of each (they happen to share their names). */
const PACKAGES: Record<ExtraShell, string> = {
  zsh: 'zsh',
  fish: 'fish',
  'bash-completion': 'bash-completion',
};

/** Where bash-completion's main script is (it has no binary to look for). */
export const BASH_COMPLETION_SCRIPT = '/usr/share/bash-completion/bash_completion';

/** A shell's executable (or bash-completion's script), or why it is not there. */
export type Availability =
  | { path: string; missing?: undefined }
  | { path?: undefined; missing: string };

let installing: Promise<Record<ExtraShell, Availability>> | undefined;

/**
 * zsh, fish and bash-completion, installing those missing (once per process). Never
 * rejects: a failed install makes the ones still missing report the failure.
 */
export function ensureShells(): Promise<Record<ExtraShell, Availability>> {
  installing ??= install();
  return installing;
}

async function install(): Promise<Record<ExtraShell, Availability>> {
  const all = Object.keys(PACKAGES) as ExtraShell[];
  const missing = all.filter((name) => locate(name) === undefined);
  let failure: string | undefined;
  if (missing.length > 0) {
    const command = `apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends ${missing.map((n) => PACKAGES[n]).join(' ')}`;
    if (process.getuid?.() !== 0) {
      failure = `not installed, and not root to run: apt-get update && ${command}`;
    } else {
      failure = await aptGet(command);
    }
  }
  const result = {} as Record<ExtraShell, Availability>;
  for (const name of all) {
    const path = locate(name);
    result[name] =
      path !== undefined ? { path } : { missing: `${name}: ${failure ?? 'not installed'}` };
  }
  return result;
}

/** Runs the install (again after `apt-get update` if it fails); the error, if any. */
async function aptGet(command: string): Promise<string | undefined> {
  const options = {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  };
  const started = performance.now();
  try {
    try {
      await run('sh', ['-c', command], options);
    } catch {
      await run('sh', ['-c', `apt-get update && ${command}`], options);
    }
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim().split('\n').at(-1);
    return `${command} failed: ${stderr || (err as Error).message}`;
  }
  const ms = Math.round(performance.now() - started);
  process.stderr.write(`[shells] ${command}: ${ms} ms\n`);
  return undefined;
}

/** The executable (or script) of `name`, or undefined when it is not installed. */
function locate(name: ExtraShell): string | undefined {
  if (name === 'bash-completion') {
    return existsSync(BASH_COMPLETION_SCRIPT) ? BASH_COMPLETION_SCRIPT : undefined;
  }
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.status === 0 ? found.stdout.trim() : '';
  return path !== '' && spawnSync(path, ['--version'], { stdio: 'ignore' }).status === 0
    ? path
    : undefined;
}
