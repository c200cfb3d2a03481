/**
 * The `cairn` command line. This file only declares commands and options; each command
 * lives in commands/<name>.ts and is imported when it runs, so `cairn --help` loads
 * almost nothing. Only this file calls process.exit.
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import { CairnError } from '../core/errors.js';
import { VERSION } from '../ops/program.js';
import { COMPLETION_SHELLS } from './completion/shells.js';
import { CommandContext, EXIT, type GlobalOptions } from './context.js';
import { describeFailure, failureText } from './failure.js';
import { KEY_ACTIONS } from './key-actions.js';
import { warnLockLeft } from './lock-left.js';
import { Output } from './output.js';
import { collect, collectList, collectSetTags, parseInteger } from './parse.js';
import { addFilterOptions } from './snapshot-filter-options.js';

type Handler = (ctx: CommandContext, ...args: never[]) => Promise<number>;

/** One lazily loaded module per command. */
const COMMANDS: Record<string, () => Promise<{ default: Handler }>> = {
  init: () => import('./commands/init.js'),
  key: () => import('./commands/key.js'),
  backup: () => import('./commands/backup.js'),
  snapshots: () => import('./commands/snapshots.js'),
  ls: () => import('./commands/ls.js'),
  restore: () => import('./commands/restore.js'),
  diff: () => import('./commands/diff.js'),
  cat: () => import('./commands/cat.js'),
  dump: () => import('./commands/dump.js'),
  find: () => import('./commands/find.js'),
  check: () => import('./commands/check.js'),
  stats: () => import('./commands/stats.js'),
  chunk: () => import('./commands/chunk.js'),
  tui: () => import('./commands/tui.js'),
  sync: () => import('./commands/sync.js'),
  forget: () => import('./commands/forget.js'),
  tag: () => import('./commands/tag.js'),
  rewrite: () => import('./commands/rewrite.js'),
  repair: () => import('./commands/repair.js'),
  prune: () => import('./commands/prune.js'),
  unlock: () => import('./commands/unlock.js'),
  version: () => import('./commands/version.js'),
  completion: () => import('./commands/completion.js'),
};

/** What the filter options narrow for commands that take one snapshot selector. */
const LATEST_AMONG = 'latest and tag:NAME among snapshots';
/** ...and for those that take many, or every one the filters match. */
const CHOSEN_OR_LATEST = 'only snapshots (with SNAPSHOTs: latest and tag:NAME among snapshots)';

/** Builds the program; `run` is called with the command module name and arguments. */
export function buildProgram(
  run: (module: string, args: unknown[], globals: GlobalOptions) => Promise<void>,
  io?: Required<CliIo>,
): Command {
  const program = new Command('cairn')
    .description('content-addressed, deduplicating snapshot store')
    .version(VERSION)
    .option(
      '-r, --repo <location>',
      'repository: a directory, s3:..., or http(s)://... (env CAIRN_REPO)',
    )
    .option('--json', 'machine-readable output: one JSON object per line')
    .option('-q, --quiet', 'print only errors and results')
    .option('--transfers <n>', 'blob uploads/downloads in flight at once (default 8)')
    .option('--checkers <n>', 'existence checks in flight at once (default 16)')
    .option('--tps-limit <n>', 'at most N requests per second to each repository')
    .option('--bwlimit <rate>', 'at most RATE bytes per second to/from each repository (e.g. 10M)')
    .option('--password-file <file>', 'read the repository password from FILE (env CAIRN_PASSWORD)')
    .option('--password-command <cmd>', 'run CMD and use its output as the repository password')
    .option(
      '-o, --option <key=value>',
      'a backend setting, e.g. s3.storage-class=STANDARD_IA (repeatable; docs/backends.md)',
      collect,
    )
    // One line naming the bad option and a hint, not the whole help: a bad value of one
    // option buried under 27 lines of usage is easy to miss.
    .showHelpAfterError("(add --help for the command's options)")
    .exitOverride();
  if (io) {
    program.configureOutput({
      writeOut: (str) => io.stdout.write(str),
      writeErr: (str) => io.stderr.write(str),
    });
  }
  const act =
    (module: string) =>
    async (...args: unknown[]) => {
      // commander passes (...positionals, options, command)
      const cmd = args.at(-1) as Command;
      await run(module, args.slice(0, -1), cmd.optsWithGlobals() as GlobalOptions);
    };

  program
    .command('init')
    .description('create a repository')
    .option('--min <size>', 'smallest chunk (e.g. 16K)')
    .option('--avg <size>', 'average chunk size (e.g. 64K)')
    .option('--max <size>', 'largest chunk (e.g. 256K)')
    .option('--level <n>', 'FastCDC normalization level 0-3')
    .option('--seed <n>', 'FastCDC gear seed (64-bit integer)')
    .option('--inline-max <size>', 'store files up to this size inside their directory node')
    .option(
      '--copy-params-from <repo>',
      'use the chunker, inline and paging parameters of another repository (so sync works)',
    )
    .option(
      '--from-password-file <file>',
      'password of the --copy-params-from repository (env CAIRN_FROM_PASSWORD; default: the same)',
    )
    .option('--no-encryption', 'store objects unencrypted (public repositories served over HTTP)')
    .addOption(
      new Option(
        '--preset <name>',
        'chunk sizes, inline threshold and compression for: backup (default) or builds',
      ).choices(['backup', 'builds']),
    )
    .addOption(
      new Option(
        '--compression <mode>',
        "default compression of writers (default: the preset's, auto for backup)",
      ).choices(['off', 'auto', 'max']),
    )
    .action(act('init'));

  program
    .command('key')
    .description('manage the password slots of an encrypted repository')
    .addArgument(new Argument('<action>', 'what to do with the slots').choices(KEY_ACTIONS))
    .argument('[slot]', 'key slot id or prefix (remove)')
    .option('--new-password-file <file>', 'the new password (env CAIRN_NEW_PASSWORD; else prompt)')
    .action(act('key'));

  program
    .command('backup')
    .description('back up files and directories into a new snapshot')
    .argument('[path...]', 'files or directories')
    .option('-t, --tag <tag>', 'tag the snapshot (repeatable, or comma-separated)', collectList)
    .option('-e, --exclude <glob>', 'exclude matching files and directories (repeatable)', collect)
    .option('--exclude-file <file>', 'read exclude globs from a file (repeatable)', collect)
    .option(
      '--exclude-if-present <name[:header]>',
      'leave out the content of directories holding this file, if it starts with header (repeatable)',
      collect,
    )
    .option('--exclude-caches', 'leave out the content of directories with a valid CACHEDIR.TAG')
    .option('--exclude-larger-than <size>', 'leave out files larger than this (e.g. 1G, 500M)')
    .option('--stdin', 'back up what is read from standard input, as one file')
    .option(
      '--stdin-from-command',
      'run the command given as the arguments (after --) and back up its output as one file; nothing is saved if it fails',
    )
    .option('--stdin-filename <name>', 'the name of that file in the snapshot (default: stdin)')
    .option('-x, --one-file-system', 'do not cross file-system boundaries')
    .option(
      '--no-xattrs',
      'do not record extended attributes (ACLs, file capabilities, SELinux labels, user.*)',
    )
    .option(
      '--files-from <file>',
      'back up only the paths FILE lists, one a line, and what leads to them (# comments; - reads stdin; repeatable)',
      collect,
    )
    .option(
      '--files-from-verbatim <file>',
      'as --files-from, every non-empty line a path as written',
      collect,
    )
    .option(
      '--files-from-raw <file>',
      'as --files-from, paths separated by NUL bytes (find -print0, git ls-files -z)',
      collect,
    )
    .option(
      '--ignore-inode',
      'a file whose inode or device number alone changed is unchanged (FUSE, network file systems)',
    )
    .option(
      '--ignore-ctime',
      'a file whose ctime alone changed is unchanged (mode and owner are still compared)',
    )
    .option('-n, --dry-run', 'read everything, store nothing')
    .option('-f, --force', 'read every file, whatever the stat cache says')
    .option('--host <name>', 'hostname to record (default: this machine)')
    .option('--parent <snapshot>', 'record this snapshot as the parent')
    .option(
      '--skip-if-unchanged',
      "save no snapshot when the tree and tags equal the parent snapshot's",
    )
    .option(
      '--time <time>',
      "the snapshot's time (YYYY-MM-DD[ HH:MM[:SS]], local unless it ends in Z or +HH:MM)",
    )
    .option('-v, --verbose', 'list every file')
    .action(act('backup'));

  addFilterOptions(
    program.command('snapshots').description('list snapshots, oldest first'),
    'only snapshots',
  )
    .option('--latest <n>', 'only the N newest snapshots of each host and set of paths', (v) =>
      parseInteger(v, '--latest'),
    )
    .action(act('snapshots'));

  const ls = program
    .command('ls')
    .description('list files in a snapshot')
    .argument('<snapshot>', 'snapshot id, id prefix, latest or tag:NAME')
    .argument('[path]', 'directory or file inside the snapshot', '')
    .option('-l, --long', 'show mode, owner, size and time');
  addFilterOptions(ls, LATEST_AMONG).action(act('ls'));

  const find = program
    .command('find')
    .description('find files and directories by name or path in snapshots')
    .argument('<pattern...>', 'globs: a name (*.sql), or a path with / (/etc/*.conf)')
    .option('-s, --snapshot <snapshot>', 'search this snapshot only (repeatable)', collect)
    .option('-i, --ignore-case', 'match names and paths in any case')
    .option('-l, --long', 'show mode, owner, size and time');
  addFilterOptions(
    find,
    'only snapshots (with --snapshot: latest and tag:NAME among snapshots)',
  ).action(act('find'));

  const dump = program
    .command('dump')
    .description('write a file of a snapshot to stdout, or a directory (or /) as a tar archive')
    .argument('<snapshot>', 'snapshot id, id prefix, latest or tag:NAME')
    .argument('<path>', 'file or directory inside the snapshot; / for all of it')
    .option('--tar', 'write a tar archive even when PATH is a file');
  addFilterOptions(dump, LATEST_AMONG).action(act('dump'));

  const restore = program
    .command('restore')
    .description('restore a snapshot into a directory')
    .argument('<snapshot>', 'snapshot id, id prefix, latest or tag:NAME')
    .requiredOption('--target <dir>', 'directory to restore into')
    .option('-i, --include <path>', 'restore only this path of the snapshot (repeatable)', collect)
    .option(
      '-e, --exclude <glob>',
      'leave out matching files and directories (repeatable; paths as in the snapshot)',
      collect,
    )
    .option('--exclude-file <file>', 'read exclude globs from FILE (repeatable)', collect)
    .option('--seed <dir>', 'also reuse chunks found in this directory (repeatable)', collect)
    .option('--delete', 'remove files and directories the snapshot does not have')
    .option('--no-xattrs', 'do not restore extended attributes')
    .addOption(
      new Option(
        '--overwrite <mode>',
        'existing files: keep matching ones, rewrite all, or keep all',
      )
        .choices(['changed', 'always', 'never'])
        .default('changed'),
    )
    .option('-n, --dry-run', 'show what would be fetched, reused and deleted; change nothing')
    .option('-v, --verbose', 'list every file');
  addFilterOptions(restore, LATEST_AMONG).action(act('restore'));

  const diff = program
    .command('diff')
    .description('show what changed between two snapshots')
    .argument('<snapshot1>', 'the older snapshot')
    .argument('<snapshot2>', 'the newer snapshot')
    .option('--metadata', 'also list entries whose metadata alone changed');
  addFilterOptions(diff, LATEST_AMONG).action(act('diff'));

  const cat = program
    .command('cat')
    .description('print a repository object: config, snapshot ID, tree ID, blob ID')
    .addArgument(
      new Command()
        .createArgument('<kind>', 'what to print')
        .choices(['config', 'snapshot', 'tree', 'blob']),
    )
    .argument('[id]', 'object id (snapshot selector for snapshot)');
  addFilterOptions(cat, '`cat snapshot`: latest and tag:NAME among snapshots').action(act('cat'));

  program
    .command('check')
    .description('verify the repository structure and, with --read-data, all content')
    .option('--read-data', 'read and verify every data blob')
    .option(
      '--read-data-subset <subset>',
      'read and verify a share of the data blobs: N/M (bucket N of M) or P% (random sample)',
    )
    .action(act('check'));

  const forget = program
    .command('forget')
    .description(
      'remove snapshots by retention policy, or the ones named (prune reclaims their space)',
    )
    // Named [id...], not [snapshot...]: it takes no selector (latest, tag:NAME), and
    // completion offers `latest` for a value named snapshot.
    .argument('[id...]', 'snapshots to remove instead of a policy: id or id prefix')
    .option('--keep-last <n>', 'keep the N newest snapshots')
    .option('--keep-hourly <n>', 'keep the newest snapshot of each of the last N hours')
    .option('--keep-daily <n>', 'keep the newest snapshot of each of the last N days')
    .option('--keep-weekly <n>', 'keep the newest snapshot of each of the last N weeks')
    .option('--keep-monthly <n>', 'keep the newest snapshot of each of the last N months')
    .option('--keep-yearly <n>', 'keep the newest snapshot of each of the last N years')
    .option(
      '--keep-within <duration>',
      'keep snapshots within DURATION of the newest (e.g. 1y2m3d4h)',
    )
    .option(
      '--keep-tag <tags>',
      'keep snapshots with all these tags (repeatable; comma-separated)',
      collect,
    )
    .option(
      '--group-by <fields>',
      'group by host, paths, tags (comma-separated; default host,paths)',
    )
    .option('-n, --dry-run', 'show what would be kept and removed, and why')
    .option('--prune', 'run prune afterwards')
    .option('--grace <duration>', 'prune grace period (with --prune; default 1h)');
  addFilterOptions(forget, 'only consider snapshots').action(act('forget'));

  const tag = program
    .command('tag')
    .description('change the tags of snapshots (each changed record is replaced by a new one)')
    .argument(
      '[snapshot...]',
      'snapshots to change: id, id prefix, latest, tag:NAME (default: all, or those --tag/--host/--path choose)',
    )
    .option('--add <tag>', 'add this tag (repeatable, or comma-separated)', collectList)
    .option('--remove <tag>', 'remove this tag (repeatable, or comma-separated)', collectList)
    .option(
      '--set <tag>',
      'replace all tags with these (repeatable, or comma-separated)',
      collectSetTags,
    )
    .option('--clear', 'remove every tag')
    .option('-n, --dry-run', 'show what would change; write nothing');
  addFilterOptions(tag, CHOSEN_OR_LATEST).action(act('tag'));

  const rewrite = program
    .command('rewrite')
    .description('remove files from existing snapshots (each changed snapshot gets a new record)')
    .argument(
      '[snapshot...]',
      'snapshots to rewrite: id, id prefix, latest, tag:NAME (default: all, or those --tag/--host/--path choose)',
    )
    .option('-e, --exclude <glob>', 'remove matching files and directories (repeatable)', collect)
    .option('--exclude-file <file>', 'read exclude globs from FILE (repeatable)', collect)
    .option('--forget', "remove each rewritten snapshot's original record")
    .option('-n, --dry-run', 'show what would be removed; write nothing')
    .option('-v, --verbose', 'list every removed path');
  addFilterOptions(rewrite, CHOSEN_OR_LATEST).action(act('rewrite'));

  const repair = program
    .command('repair')
    .description('make a damaged repository consistent again (see: repair snapshots)');
  const repairSnapshots = repair
    .command('snapshots')
    .description(
      'remove what can no longer be restored from snapshots (each repaired snapshot gets a new record)',
    )
    .argument(
      '[snapshot...]',
      'snapshots to repair: id, id prefix, latest, tag:NAME (default: all, or those --tag/--host/--path choose)',
    )
    .option('--read-data', 'also read and verify every data blob the snapshots reference')
    .option('--forget', "remove each repaired snapshot's original record")
    .option('-n, --dry-run', 'show what would be removed; write and delete nothing')
    .option('-v, --verbose', 'name the damage in every snapshot, not only where first found');
  addFilterOptions(repairSnapshots, CHOSEN_OR_LATEST).action(act('repair'));

  program
    .command('prune')
    .description('delete blobs no snapshot references (safe while others back up)')
    .option('-n, --dry-run', 'count what is unreferenced; delete nothing')
    .option(
      '--grace <duration>',
      'age a mark must reach before its blobs are deleted (default 1h; 0: at once)',
    )
    .action(act('prune'));

  program
    .command('unlock')
    .description('remove stale locks')
    .option('--remove-all', 'remove every lock, live or not')
    .action(act('unlock'));

  const stats = program
    .command('stats')
    .description(
      'repository size and deduplication; with SNAPSHOTs or filters, what they reference and what only they do',
    )
    .argument('[snapshot...]', 'snapshots to count: id, id prefix, latest, tag:NAME');
  addFilterOptions(stats, CHOSEN_OR_LATEST).action(act('stats'));

  const sync = program
    .command('sync')
    .description('copy snapshots missing in DST from SRC, sending only the blobs DST lacks')
    .argument('<src>', 'source repository: a directory, s3:..., or http(s)://...')
    .argument('<dst>', 'destination repository')
    .argument(
      '[snapshot...]',
      'snapshots to copy: id, id prefix, latest, tag:NAME (default: all, or those --tag/--host/--path choose)',
    )
    .option('-n, --dry-run', 'find and count what would be sent; write nothing')
    .option(
      '--from-password-file <file>',
      'password of the source repository (env CAIRN_FROM_PASSWORD; default: the same)',
    );
  addFilterOptions(sync, CHOSEN_OR_LATEST).action(act('sync'));

  program
    .command('chunk')
    .description('print the FastCDC chunks of a file')
    .argument('<file>', 'file to chunk')
    .option('--min <size>', 'smallest chunk')
    .option('--avg <size>', 'average chunk size')
    .option('--max <size>', 'largest chunk')
    // No commander defaults: an option typed at its default value still counts as given.
    .option('--level <n>', 'normalization level 0-3 (default: 1)')
    .option('--seed <n>', 'gear seed, a 64-bit integer (default: 0)')
    .action(act('chunk'));

  program
    .command('tui')
    .description('browse snapshots, compare them and restore files interactively')
    .action(act('tui'));

  program
    .command('version')
    .description('print the version, the Node version and the zstd engine in use')
    .action(act('version'));

  program
    .command('completion')
    .description('print a shell completion script (e.g. source <(cairn completion bash))')
    .addArgument(new Argument('<shell>', 'the shell').choices(COMPLETION_SHELLS))
    .action(act('completion'));

  program.addOption(new Option('--no-color').hideHelp());
  return program;
}

/** Where the CLI writes; tests pass their own streams. */
export interface CliIo {
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIo = {}): Promise<number> {
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      // A second Ctrl-C: stop waiting for the clean-up, as without a handler.
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.kill(process.pid, signal);
      return;
    }
    interrupted = true;
    controller.abort(new Error('interrupted'));
  };
  // `on`, not `once`: a handler `once` removes before it runs leaves none registered, and
  // ink's signal-exit, seeing no other listener, re-raises the signal and kills the
  // process before the TUI leaves the alternate screen.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let code: number = EXIT.ok;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  // A reader that stops reading (`cairn ls | head`) closes the pipe, and a full disk
  // fails writes to a file: stop the command as SIGPIPE would stop other tools, but
  // through the abort path, so locks and temporary files are cleaned up, and without
  // the unhandled 'error' crash. Ctrl-C stays an interruption (it closes `head` too).
  // The same for stderr (`cairn backup 2>&1 | head -1`): its warnings and progress
  // cannot be shown any more, and an unhandled 'error' would crash with the lock held.
  let stdoutError: NodeJS.ErrnoException | undefined;
  let stderrError: NodeJS.ErrnoException | undefined;
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    stdoutError ??= err;
    controller.abort(err);
  };
  const onStderrError = (err: NodeJS.ErrnoException) => {
    stderrError ??= err;
    controller.abort(err);
  };
  stdout.on('error', onStdoutError);
  stderr.on('error', onStderrError);
  let out = new Output(false, false, stdout, stderr);
  const program = buildProgram(
    async (module, args, globals) => {
      out = new Output(globals.json ?? false, globals.quiet ?? false, stdout, stderr);
      const ctx = new CommandContext(globals, out, controller.signal);
      const mod = await COMMANDS[module]!();
      code = await (mod.default as (ctx: CommandContext, ...a: unknown[]) => Promise<number>)(
        ctx,
        ...args,
      );
    },
    { stdout, stderr },
  );
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    // The command never ran on a usage error, so `out` is not in JSON mode yet.
    if (err instanceof CommanderError && wantsJson(argv))
      out = new Output(true, false, stdout, stderr);
    if ((!stdoutError && !stderrError) || interrupted) {
      code = exitCodeFor(err, out, controller.signal);
    }
  } finally {
    out.clearProgress();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Once a stream has failed, writes still queued fail too: keep handling them.
    if (!stdoutError) stdout.off('error', onStdoutError);
    if (!stderrError) stderr.off('error', onStderrError);
  }
  if (interrupted) return code;
  if (stdoutError) return stdoutFailure(stdoutError, out);
  if (stderrError) return stderrError.code === 'EPIPE' ? EXIT.brokenPipe : EXIT.failure;
  return code;
}

/**
 * The exit code when stdout failed: 141 (as SIGPIPE) and nothing said when its reader
 * closed it; else the error on stderr (`cannot write to stdout: ...`) and 1.
 */
export function stdoutFailure(err: NodeJS.ErrnoException, out: Output): number {
  if (err.code === 'EPIPE') return EXIT.brokenPipe;
  const failure = describeFailure(err);
  out.error(`cannot write to stdout: ${failure.message}`);
  return EXIT.failure;
}

function exitCodeFor(err: unknown, out: Output, signal: AbortSignal): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
    if (err.code === 'commander.help') return EXIT.ok;
    // Commander printed the message on stderr.
    const message = err.message.replace(/^error: /, '');
    out.event({ type: 'error', code: 'usage', message });
    return EXIT.usage;
  }
  warnLockLeft(err, out);
  if (err instanceof CairnError && (err.code === 'aborted' || signal.aborted)) {
    out.error('interrupted');
    if (out.json) out.event({ type: 'error', code: 'aborted', message: 'interrupted' });
    return EXIT.interrupted;
  }
  const failure = describeFailure(err);
  out.error(failureText(failure, err, Boolean(process.env.CAIRN_DEBUG)));
  if (out.json) {
    const { internal: _, ...event } = failure;
    out.event({ type: 'error', ...event });
  }
  return failure.code === 'usage' ? EXIT.usage : EXIT.failure;
}

/** Whether `--json` is among the global options of `argv` (before any `--`). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}
