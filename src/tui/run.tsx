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

/**
 * Runs the terminal UI on `repo` until the user quits (resolves 'quit'), or Ctrl-C or
 * `signal` ends it ('interrupted': a restore in progress was cancelled, as by Esc, and
 * leaves what it wrote for the next restore there to finish).
 */
export async function runTui(
  repo: Repository,
  options: TuiOptions = {},
): Promise<'quit' | 'interrupted'> {
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  stdout.write(ENTER_ALT_SCREEN);
  const onResize = () => stdout.write(CLEAR);
  stdout.prependListener('resize', onResize);
  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
    app.unmount();
  };
  const app = render(<App repo={repo} cwd={options.cwd} onInterrupt={interrupt} />, {
    stdout,
    stdin,
    exitOnCtrlC: false,
  });
  options.signal?.addEventListener('abort', interrupt, { once: true });
  try {
    await app.waitUntilExit();
    return interrupted ? 'interrupted' : 'quit';
  } finally {
    options.signal?.removeEventListener('abort', interrupt);
    stdout.off('resize', onResize);
    stdout.write(LEAVE_ALT_SCREEN);
  }
}
