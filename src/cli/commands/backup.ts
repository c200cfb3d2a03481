/** `cairn backup PATH...`: create a snapshot. */

import { buffer } from 'node:stream/consumers';
import { isatty } from 'node:tty';
import { UsageError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import { backup, checkBackupOptions } from '../../ops/backup.js';
import type { BackupEvent } from '../../ops/events.js';
import { parseExcludeTag } from '../../ops/exclude-tags.js';
import { commandOutput } from '../command-output.js';
import { type CommandContext, EXIT } from '../context.js';
import { checkExcludeOptions, excludePatterns } from '../exclude-options.js';
import { type FilesFromCliOptions, hasFilesFrom, readFilesFrom } from '../files-from.js';
import { count, formatBytes, formatDuration, visiblePath } from '../format.js';
import { lockWaitNote } from '../lock-wait.js';
import { checkHostOption, checkTagOption, parseSize, parseTime } from '../parse.js';

interface BackupCliOptions extends FilesFromCliOptions {
  tag?: string[];
  exclude?: string[];
  excludeFile?: string[];
  excludeIfPresent?: string[];
  excludeCaches?: boolean;
  excludeLargerThan?: string;
  stdin?: boolean;
  stdinFromCommand?: boolean;
  stdinFilename?: string;
  oneFileSystem?: boolean;
  /** False with --no-xattrs. */
  xattrs?: boolean;
  ignoreInode?: boolean;
  ignoreCtime?: boolean;
  dryRun?: boolean;
  force?: boolean;
  host?: string;
  parent?: string;
  skipIfUnchanged?: boolean;
  time?: string;
  verbose?: boolean;
}

export default async function backupCommand(
  ctx: CommandContext,
  paths: string[],
  opts: BackupCliOptions,
): Promise<number> {
  checkSnapshotOptions(opts);
  const stdin = stdinOption(opts, paths);
  const excludeLargerThan =
    opts.excludeLargerThan === undefined
      ? undefined
      : parseSize(opts.excludeLargerThan, '--exclude-larger-than');
  const time = opts.time === undefined ? undefined : parseTime(opts.time, '--time');
  const excludes = await excludePatterns(opts);
  const filesFrom = await readFilesFrom(opts, () => buffer(process.stdin));
  // The arguments of --stdin-from-command are its command, not paths.
  const sources = opts.stdinFromCommand ? [] : paths;
  // What to back up and leave out; what backup() would refuse of it is refused before
  // the repository is opened.
  const selection = {
    paths: sources,
    tags: opts.tag ?? [],
    excludes,
    excludeIfPresent: opts.excludeIfPresent ?? [],
    excludeCaches: opts.excludeCaches ?? false,
    ...(excludeLargerThan !== undefined ? { excludeLargerThan } : {}),
    oneFileSystem: opts.oneFileSystem ?? false,
    ...(filesFrom ? { filesFrom } : {}),
    ...(stdin ? { stdin } : {}),
    ...(time ? { time } : {}),
  };
  checkBackupOptions(selection);
  return ctx.withRepo(
    async (repo) => {
      const parent = opts.parent ? (await ctx.resolveSnapshot(repo, opts.parent)).id : undefined;
      let warnings = 0;
      // Paths --files-from lists that were not there: not read errors.
      let notFound = 0;
      // Entries recorded without (some of) their extended attributes: their content is in.
      let withoutXattrs = 0;
      const onEvent = (e: BackupEvent) => {
        if (e.type === 'warning') {
          if (e.code === 'not-found') notFound++;
          else if (e.code === 'xattrs') withoutXattrs++;
          else warnings++;
          ctx.out.warn(`${visiblePath(e.path)}: ${e.message}`, e);
        } else if (e.type === 'progress') {
          ctx.out.progress({ ...e, extra: `+${formatBytes(e.bytesAdded)}` });
          if (ctx.out.json) ctx.out.event(e);
        } else if (e.type === 'file') {
          if (ctx.out.json) ctx.out.event(e);
          else ctx.out.line(`${e.status.padEnd(9)} ${visiblePath(e.path)}`);
        } else if (e.type === 'notice') {
          // Not a warning: nothing is missing from the snapshot (exit code unchanged).
          if (ctx.out.json) ctx.out.event(e);
          else ctx.out.note(e.message);
        } else ctx.out.event(e);
      };
      const options = {
        ...selection,
        dryRun: opts.dryRun ?? false,
        force: opts.force ?? false,
        xattrs: opts.xattrs ?? true,
        ignoreInode: opts.ignoreInode ?? false,
        ignoreCtime: opts.ignoreCtime ?? false,
        ...(opts.host !== undefined ? { hostname: opts.host } : {}),
        ...(parent ? { parent } : {}),
        scan: ctx.out.showProgress || ctx.out.json,
        verbose: opts.verbose ?? false,
        signal: ctx.signal,
        onEvent,
      };
      // backup() holds a shared lock, so a concurrent prune never deletes what it reuses.
      const { snapshotId, snapshot, bytesRead, unchangedSince } = await backup(repo, {
        ...options,
        skipIfUnchanged: opts.skipIfUnchanged ?? false,
        onLockWait: lockWaitNote(ctx.out),
      });
      const s = snapshot.summary;
      ctx.out.event({
        type: 'summary',
        operation: 'backup',
        snapshot: snapshotId ?? null,
        dryRun: opts.dryRun ?? false,
        ...(unchangedSince ? { unchangedSince } : {}),
        ...s,
        bytesRead,
        tree: snapshot.tree,
      });
      ctx.out.clearProgress();
      ctx.out.line(
        `files: ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnchanged} unchanged; ${s.dirs} directories`,
      );
      ctx.out.line(
        `processed ${s.files} files, ${formatBytes(s.bytes)} in ${formatDuration(s.durationMs)}`,
      );
      ctx.out.line(
        `${opts.dryRun ? 'would add' : 'added'} ${formatBytes(s.bytesAdded)} in ${s.blobsAdded} blobs to the repository`,
      );
      if (snapshotId) ctx.out.result(`snapshot ${shortId(snapshotId)} saved`);
      else if (unchangedSince) {
        ctx.out.result(
          `nothing changed since snapshot ${shortId(unchangedSince)}: no snapshot saved (--skip-if-unchanged)`,
        );
      } else ctx.out.result('dry run: no snapshot saved');
      if (notFound > 0) {
        ctx.out.error(
          `${count(notFound, 'path')} listed in --files-from not found (see the warnings)`,
        );
      }
      if (warnings > 0) {
        // A file that cannot be read is left out; a directory that cannot be listed is
        // saved empty: either way, the snapshot lacks their content.
        ctx.out.error(
          `${count(warnings, 'path')} could not be read (see the warnings): the snapshot lacks their content`,
        );
      }
      if (withoutXattrs > 0) {
        ctx.out.error(
          `extended attributes not recorded for ${count(withoutXattrs, 'path')} (see the warnings)`,
        );
      }
      if (warnings + notFound + withoutXattrs > 0) return EXIT.partial;
      return EXIT.ok;
    },
    { dryRun: opts.dryRun ?? false },
  );
}

/**
 * `--stdin`, `--stdin-from-command` and `--stdin-filename` as backup() takes them.
 * Standard input must not be a terminal (the backup would wait for typing); it is read
 * as `process.stdin`, which nothing else in the CLI opens. A command comes as the
 * arguments (after `--`) and is started only when the backup starts reading.
 */
function stdinOption(
  opts: BackupCliOptions,
  args: readonly string[],
): { filename: string; source?: AsyncIterable<Uint8Array> } | undefined {
  if (opts.stdin && opts.stdinFromCommand) {
    throw new UsageError('--stdin and --stdin-from-command: choose one');
  }
  if (!opts.stdin && !opts.stdinFromCommand) {
    if (opts.stdinFilename !== undefined) {
      throw new UsageError(
        '--stdin-filename is for --stdin or --stdin-from-command: it names the file they store',
      );
    }
    return undefined;
  }
  // Named here: backup() sees the file's patterns as --exclude ones (and an empty file
  // as none).
  if ((opts.excludeFile ?? []).length > 0) {
    throw new UsageError('--exclude-file has nothing to filter in a backup of standard input');
  }
  // Before a list is read from standard input, which holds the data here.
  if (hasFilesFrom(opts)) {
    throw new UsageError('--files-from has nothing to filter in a backup of standard input');
  }
  const filename = opts.stdinFilename ?? 'stdin';
  if (opts.stdinFromCommand) {
    if (args.length === 0) {
      throw new UsageError(
        '--stdin-from-command needs a command: cairn backup --stdin-from-command -- CMD [ARG...]',
      );
    }
    return { filename, source: commandOutput(args) };
  }
  if (isatty(0)) {
    throw new UsageError(
      '--stdin: standard input is a terminal; pipe or redirect the data to back up',
    );
  }
  return { filename };
}

/**
 * Refuses a tag or host the snapshot record could not hold, and empty values (an unset
 * shell variable: `--parent ''` would quietly mean the automatic parent), before the
 * repository is opened.
 */
function checkSnapshotOptions(opts: BackupCliOptions): void {
  checkTagOption(opts.tag ?? [], '--tag');
  if (opts.host !== undefined) checkHostOption(opts.host, '--host');
  if (opts.parent === '') throw new UsageError('--parent "": the snapshot is empty');
  // Before the repository is opened, as for any other bad option.
  checkExcludeOptions(opts);
  for (const spec of opts.excludeIfPresent ?? []) parseExcludeTag(spec);
}
