/** `cairn tui`: browse snapshots, compare them and restore files interactively. */
import { AbortedError, UsageError } from '../../core/errors.js';
import { type CommandContext, EXIT } from '../context.js';

export default async function tui(ctx: CommandContext): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError('cairn tui needs an interactive terminal: stdin and stdout must be a TTY');
  }
  const { runTui } = await loadTui();
  return ctx.withRepo(async (repo) => {
    const end = await runTui(repo, { signal: ctx.signal });
    // Ended by Ctrl-C, SIGINT or SIGTERM (the UI has left the alternate screen): exit 130.
    if (end === 'interrupted' || ctx.signal.aborted) throw new AbortedError('interrupted');
    return EXIT.ok;
  });
}

/**
 * Loads the UI module. ink decides once, when it is first loaded, whether it runs in
 * CI (from the CI and CONTINUOUS_INTEGRATION variables) and then draws nothing until
 * exit. A terminal that passed the TTY check above is interactive whatever the
 * environment says, so those variables are hidden while ink loads, then put back.
 */
async function loadTui(): Promise<typeof import('../../tui/index.js')> {
  const names = ['CI', 'CONTINUOUS_INTEGRATION'] as const;
  const saved = names.map((n) => process.env[n]);
  for (const n of names) delete process.env[n];
  try {
    return await import('../../tui/index.js');
  } finally {
    names.forEach((n, i) => {
      if (saved[i] !== undefined) process.env[n] = saved[i];
    });
  }
}
