/**
 * A real terminal for end-to-end tests: a tmux server of our own (its own socket, no
 * config file) with one session running one command, whose screen the test reads and
 * into which it types.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TMUX = process.env.TMUX_BIN ?? 'tmux';

/** Throws a helpful error when tmux is missing. */
export function requireTmux(): void {
  try {
    execFileSync(TMUX, ['-V']);
  } catch {
    throw new Error(`the end-to-end terminal tests need tmux (looked for ${TMUX}; set TMUX_BIN)`);
  }
}

/** A tmux server of our own, with one session running one command. */
export class Terminal {
  readonly socket = `cairn-e2e-${process.pid}-${randomBytes(4).toString('hex')}`;
  private socketPath: string | undefined;

  tmux(...args: string[]): string {
    return execFileSync(TMUX, ['-L', this.socket, '-f', '/dev/null', ...args], {
      encoding: 'utf8',
    });
  }

  /** Starts `command` in a `width`×`height` terminal in directory `cwd`. */
  start(command: string, cwd: string, width: number, height: number): void {
    this.tmux(
      '-u',
      'new-session',
      '-d',
      '-s',
      'e2e',
      '-x',
      `${width}`,
      '-y',
      `${height}`,
      '-c',
      cwd,
      command,
    );
    this.socketPath = this.tmux('display-message', '-p', '#{socket_path}').trim();
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', 'e2e');
  }

  /** Sends tmux key names (`Enter`, `Space`, `BSpace`, `Escape`, `j`...). */
  keys(...names: string[]): void {
    this.tmux('send-keys', '-t', 'e2e', ...names);
  }

  /** Types text literally. */
  type(text: string): void {
    this.tmux('send-keys', '-t', 'e2e', '-l', text);
  }

  /** Polls the screen until `test` passes; fails showing the last screen. */
  async waitFor(
    test: string | RegExp | ((s: string) => boolean),
    timeoutMs = 20_000,
  ): Promise<string> {
    const ok =
      typeof test === 'string'
        ? (s: string) => s.includes(test)
        : test instanceof RegExp
          ? (s: string) => test.test(s)
          : test;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (ok(s)) return s;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${String(test)}; the screen was:\n${s}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server and removes its socket file (tmux leaves it behind). */
  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }
}

/**
 * Runs shell `command` in a terminal of its own, in a new temporary folder, and gives
 * the screen once it has ended: it shows `exit=N`, the command's exit status.
 */
export async function runAtTerminal(command: string): Promise<string> {
  requireTmux();
  const t = new Terminal();
  const cwd = mkdtempSync(join(tmpdir(), 'cairn-tty-'));
  try {
    t.start(`${command}; echo "exit=$?"; sleep 600`, cwd, 120, 20);
    return await t.waitFor('exit=');
  } finally {
    t.kill();
    rmSync(cwd, { recursive: true, force: true });
  }
}
