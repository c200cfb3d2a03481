/**
 * Where the CLI gets passwords, in order: a file or a command named on the command line,
 * an environment variable, else a prompt on the terminal (without echo). An option given
 * for this run wins over a variable left in the environment, and an empty variable counts
 * as unset (`CAIRN_PASSWORD=` would otherwise hide the file given next to it). With none
 * of these (no TTY, e.g. CI), a usage error says what to set: cairn never blocks waiting
 * for input it cannot get.
 *
 * Roles: `repo` is the password of the repository a command works on (`CAIRN_PASSWORD`,
 * `--password-file`, `--password-command`); `create` the same for a repository `init`
 * creates, asked twice when prompted; `from` the password of a second repository a
 * command reads (sync's source, `init --copy-params-from`: `CAIRN_FROM_PASSWORD`,
 * `--from-password-file`, falling back to the `repo` sources); `new` a password being
 * set (`key add`, `key passwd`: `CAIRN_NEW_PASSWORD`, `--new-password-file`, else a
 * prompt asked twice).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { AbortedError, AuthError, UsageError } from '../core/errors.js';

/**
 * Which password is wanted: `repo` to open the repository, `create` for one being
 * created (the same sources; typed on a terminal, it is asked twice), `from` for the
 * source repository, `new` for a new key slot.
 */
export type PasswordRole = 'repo' | 'create' | 'from' | 'new';

/** The password options given on the command line. */
export interface PasswordSources {
  passwordFile?: string;
  passwordCommand?: string;
  fromPasswordFile?: string;
  newPasswordFile?: string;
}

/** Strips one trailing newline (files and commands usually end with one). */
function chomp(s: string): string {
  return s.replace(/\r?\n$/, '');
}

function fromFile(path: string, option: string): string {
  let text: string;
  try {
    text = chomp(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${option} ${path}: cannot read it (${(err as Error).message})`);
  }
  if (text === '') throw new UsageError(`${option} ${path}: the file holds no password`);
  return text;
}

function fromCommand(command: string): string {
  let text: string;
  try {
    text = chomp(
      execFileSync('/bin/sh', ['-c', command], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
  } catch (err) {
    // The command ran and failed (its stderr went to ours): no password, not a usage
    // error (exit 1, as restic's).
    const { status, signal } = err as { status?: number | null; signal?: string | null };
    const how =
      typeof status === 'number'
        ? `exited with status ${status}`
        : signal
          ? `was killed by ${signal}`
          : (err as Error).message;
    throw new AuthError(`--password-command failed: ${JSON.stringify(command)} ${how}`);
  }
  if (text === '') throw new UsageError('--password-command printed no password');
  return text;
}

/** An environment variable's value, with an empty one read as unset. */
function fromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The password for `role`, from the first source that is set. */
export async function getPassword(
  role: PasswordRole,
  sources: PasswordSources,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (role === 'new') {
    if (sources.newPasswordFile) return fromFile(sources.newPasswordFile, '--new-password-file');
    return fromEnv(env, 'CAIRN_NEW_PASSWORD') ?? promptNew();
  }
  if (role === 'from') {
    if (sources.fromPasswordFile) return fromFile(sources.fromPasswordFile, '--from-password-file');
    const fromPassword = fromEnv(env, 'CAIRN_FROM_PASSWORD');
    if (fromPassword !== undefined) return fromPassword;
  }
  if (sources.passwordFile) return fromFile(sources.passwordFile, '--password-file');
  if (sources.passwordCommand) return fromCommand(sources.passwordCommand);
  const password = fromEnv(env, 'CAIRN_PASSWORD');
  if (password !== undefined) return password;
  if (!process.stdin.isTTY) {
    throw new UsageError(
      `the repository is encrypted and no password was given: set CAIRN_PASSWORD, ` +
        `use --password-file FILE or --password-command CMD, or run on a terminal ` +
        `(create unencrypted repositories with 'cairn init --no-encryption')`,
    );
  }
  // A mistyped password for a new repository would be its only one: asked twice.
  if (role === 'create') return promptTwice('repository password: ');
  return prompt(role === 'from' ? 'password of the source repository: ' : 'repository password: ');
}

async function promptNew(): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new UsageError(
      'no new password given: set CAIRN_NEW_PASSWORD, use --new-password-file FILE, or run on a terminal',
    );
  }
  return promptTwice('new password: ');
}

/** Asks for a password to set, then for it again; they must match. */
async function promptTwice(question: string): Promise<string> {
  const first = await prompt(question);
  const second = await prompt(`${question.replace(/: $/, '')} again: `);
  if (first !== second) throw new UsageError('the two passwords differ');
  return first;
}

/** Reads one line from the terminal without echoing it. */
function prompt(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (fn: () => void) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      fn();
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(typed));
        if (ch === '\u0003') return done(() => reject(new AbortedError('interrupted')));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
