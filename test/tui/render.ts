/** Helpers for ink-testing-library: plain frames, waiting for them, and key codes. */
import type { render } from 'ink-testing-library';

/** A rendered app as ink-testing-library returns it. */
export type Rendered = ReturnType<typeof render>;

/** Key sequences as a terminal sends them. */
export const KEY = {
  enter: '\r',
  escape: '\x1b',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  backspace: '\x7f',
  tab: '\t',
  pageDown: '\x1b[6~',
  pageUp: '\x1b[5~',
  home: '\x1b[H',
  end: '\x1b[F',
  ctrlU: '\x15',
} as const;

/** The frame without colour codes. */
export function plain(frame: string | undefined): string {
  return (frame ?? '').replace(/\x1b\[[0-9;]*m/g, '');
}

/** The latest frame as plain text. */
export function frame(app: Rendered): string {
  return plain(app.lastFrame());
}

/**
 * Waits until the latest frame contains `text` (or matches it), polling; fails with
 * the last frame shown when `timeoutMs` passes.
 */
export async function waitFor(
  app: Rendered,
  text: string | RegExp | ((frame: string) => boolean),
  timeoutMs = 10_000,
): Promise<string> {
  const test =
    typeof text === 'string'
      ? (f: string) => f.includes(text)
      : text instanceof RegExp
        ? (f: string) => text.test(f)
        : text;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = frame(app);
    if (test(f)) return f;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${String(text)}; last frame:\n${f}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends keys one at a time, letting ink handle each (a lone Esc needs its own turn). */
export async function press(app: Rendered, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    app.stdin.write(k);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }
}

/** Lines of a frame. */
export function lines(f: string): string[] {
  return f.split('\n');
}

/** The line the cursor (`>`) is on. */
export function cursorLine(f: string): string | undefined {
  return lines(f).find((l) => l.startsWith('>'));
}
