/**
 * Starting the UI on a real terminal: switch to the alternate screen (so the shell's
 * screen comes back on exit), render the app, and wait until it quits or `signal`
 * fires. A resize clears the screen first, so lines from the old layout never linger.
 */
import { render } from 'ink';
import type { Repository } from '../repo/repository.js';
import { App } from './app.js';

/** Options for `runTui`. */
export interface TuiOptions {
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  /** Directory relative restore targets are resolved against. */
  cwd?: string;
  /** Ends the UI (e.g. on SIGTERM). */
  signal?: AbortSignal;
}

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';
const CLEAR = '\x1b[2J\x1b[H';

/** Runs the terminal UI on `repo` until the user quits. */
export async function runTui(repo: Repository, options: TuiOptions = {}): Promise<void> {
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  stdout.write(ENTER_ALT_SCREEN);
  const onResize = () => stdout.write(CLEAR);
  stdout.prependListener('resize', onResize);
  const app = render(<App repo={repo} cwd={options.cwd} />, {
    stdout,
    stdin,
    exitOnCtrlC: true,
  });
  const onAbort = () => app.unmount();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await app.waitUntilExit();
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stdout.off('resize', onResize);
    stdout.write(LEAVE_ALT_SCREEN);
  }
}
