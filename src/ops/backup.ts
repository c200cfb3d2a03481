/**
 * `backup`: walks source paths, stores new content, writes the tree bottom-up, and
 * commits by writing the snapshot record last — an interrupted backup leaves only
 * unreferenced blobs, never a visible half snapshot.
 *
 * One source directory becomes the snapshot root (its contents are the snapshot, as
 * with a build output folder); several sources, or a single file, become entries of a
 * synthetic root named after their last path component.
 *
 * Files whose stat fingerprint matches the stat cache are not read again; everything
 * else is streamed through the chunker (never a whole file in memory). Unreadable files
 * are warnings: the snapshot is still written and `summary.errors` counts them.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { hostname as osHostname, userInfo } from 'node:os';
import { basename, dirname, resolve, sep } from 'node:path';
import { syncFileSystem } from '../backends/syncfs.js';
import { wasmScanEnabled } from '../chunker/scan-wasm.js';
import { shareSignal, throwIfAborted } from '../core/abort.js';
import { errorCause } from '../core/errno.js';
import { CairnError, UsageError } from '../core/errors.js';
import { fsPath, textOfPath } from '../core/fs-names.js';
import type { ObjectId } from '../core/ids.js';
import { xattrUnsupportedReason } from '../core/xattrs.js';
import { compareNames, nameProblem } from '../manifest/names.js';
import { dropPageBuffers, givePageBuffer } from '../manifest/page-buffers.js';
import {
  checkPaths,
  checkTags,
  checkText,
  refuseField,
  STDIN_PATH_PREFIX,
} from '../manifest/snapshot-fields.js';
import type { Snapshot, SnapshotSummary } from '../manifest/types.js';
import type { BlobStore } from '../repo/blob-store.js';
import { repoCacheDir } from '../repo/cache-dir.js';
import { ChunkPool } from '../repo/chunk-pool.js';
import type { Lock, LockInfo } from '../repo/locks.js';
import type { Repository } from '../repo/repository.js';
import type { SnapshotRef } from '../repo/snapshots.js';
import { StatCache } from '../repo/stat-cache.js';
import { DirectoryWriter } from '../repo/tree-store.js';
import { BackupWalker } from './backup-walker.js';
import type { ScanXattrs } from './dir-scan.js';
import { DirScanner } from './dir-scanner.js';
import type { BackupEvent } from './events.js';
import { ExcludeMatcher } from './exclude.js';
import { CACHEDIR_EXCLUDE_TAG, parseExcludeTag, TagExcluder } from './exclude-tags.js';
import { withSharedLock } from './lock-guard.js';
import { absolutePath, PathSelection } from './path-selection.js';
import { PROGRAM } from './program.js';
import { scanTotals } from './scan.js';

/** Options for `backup`. */
export interface BackupOptions {
  /** Files and directories to back up. */
  paths: string[];
  tags?: string[];
  /** Exclude globs (see exclude.ts). */
  excludes?: string[];
  /**
   * Exclude the content of directories holding one of these tag files, each `NAME` or
   * `NAME:HEADER` (see exclude-tags.ts); the directory and its tag file are kept.
   */
  excludeIfPresent?: string[];
  /** Exclude the content of cache directories (a valid `CACHEDIR.TAG`). */
  excludeCaches?: boolean;
  /**
   * Leave out regular files larger than this many bytes (as listed: one that grows
   * past it while it is read is read whole).
   */
  excludeLargerThan?: number;
  /**
   * Instead of `paths` (which must be empty): one file named `filename` at the
   * snapshot's root, holding what `source` yields until its end (default:
   * `process.stdin`). The snapshot records its path as `stdin:FILENAME`.
   */
  stdin?: { filename: string; source?: AsyncIterable<Uint8Array> };
  /** Do not descend into directories on other file systems. */
  oneFileSystem?: boolean;
  /**
   * Back up only these paths (relative ones from the working directory), a directory
   * with everything below it, and the directories leading to them (`--files-from`).
   * Each must be inside one of `paths`, and each of `paths` must hold one; with no
   * `paths`, the deepest directory holding them all is backed up. One the walk does not
   * find is a warning.
   */
  filesFrom?: string[];
  /** The stat cache ignores inode and device numbers (see FingerprintRules). */
  ignoreInode?: boolean;
  /** The stat cache ignores ctime, comparing mode and owner instead (see FingerprintRules). */
  ignoreCtime?: boolean;
  /**
   * Record extended attributes (ACLs, file capabilities, SELinux labels, `user.*`);
   * default true. Where cairn's native module is missing they cannot be read: a
   * `notice` (code `xattrs-unavailable`) says so once and the backup goes on without.
   */
  xattrs?: boolean;
  /** Read and chunk everything, store nothing, write no snapshot. */
  dryRun?: boolean;
  /** Read every file, whatever the stat cache says (it still classifies them in the counts). */
  force?: boolean;
  hostname?: string;
  username?: string;
  /** Snapshot to record as parent; default: the newest with the same host and paths. */
  parent?: ObjectId;
  /**
   * Write no record when the tree and tags equal the parent's (restic's
   * `--skip-if-unchanged`): frequent backups of a tree that rarely changes then add no
   * snapshot each time. Stored blobs stay (they are the parent's).
   */
  skipIfUnchanged?: boolean;
  /**
   * The snapshot's time (default: when the backup starts), for a backup of an earlier
   * state, as when bringing the history of another tool into a repository.
   */
  time?: Date;
  /** Stat cache directory; default: the repository's cache dir; `false` for none. */
  statCacheDir?: string | false;
  /** Scan the sources first for totals (gives progress percent and ETA). */
  scan?: boolean;
  /** Emit a `file` event for every file. */
  verbose?: boolean;
  /**
   * Large files in progress at once (default 4; 16 for a local repository written by
   * the workers, where a file waiting for its chunk batch to commit holds no data and
   * the workers read one file each anyway).
   */
  fileConcurrency?: number;
  /**
   * Worker threads that cut, hash and seal large files (default: one per core;
   * `CAIRN_WORKERS` overrides); 0 does it on the calling thread.
   */
  workers?: number;
  /**
   * Hold a shared lock for the duration (default true), so a concurrent prune never
   * deletes a blob this backup reuses. Dry runs and read-only repositories take none.
   */
  lock?: boolean;
  /** Called when the backup has to wait for a prune that is deleting. */
  onLockWait?: (sweep: LockInfo) => void;
  signal?: AbortSignal;
  onEvent?: (event: BackupEvent) => void;
}

/** What `backup` returns. */
export interface BackupResult {
  /** The new snapshot's id; undefined for a dry run. */
  snapshotId: ObjectId | undefined;
  snapshot: Snapshot;
  /** Bytes read from source files (0 when the stat cache showed nothing changed). */
  bytesRead: number;
  /**
   * With `skipIfUnchanged`, when no record was written: the parent, whose tree and tags
   * this backup's equal.
   */
  unchangedSince?: ObjectId;
}

/**
 * True when a backup recording `next` would say nothing `parent` does not: the same
 * tree, tags, host and paths (a parent named with --parent may be another host's).
 */
function sameContent(parent: Snapshot, next: Snapshot): boolean {
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && a.every((v, i) => v === b[i]);
  return (
    parent.tree === next.tree &&
    parent.hostname === next.hostname &&
    same(parent.tags, next.tags) &&
    same([...parent.paths].sort(), [...next.paths].sort())
  );
}

/** Backs up `options.paths` into `repo`. */
export async function backup(repo: Repository, options: BackupOptions): Promise<BackupResult> {
  shareSignal(options.signal);
  checkBackupOptions(options);
  // Refused before any file is read: every write would fail, one warning per file.
  if (!options.dryRun && !repo.backend.capabilities.writable) {
    throw new UsageError(
      `cannot back up into ${repo.backend.location}: it is read-only (back up into the repository it is published from)`,
    );
  }
  const locked = options.lock !== false && !options.dryRun;
  if (!locked) return backupUnlocked(repo, options);
  return withSharedLock(repo, 'backup', (lock) => backupUnlocked(repo, options, lock), {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onLockWait ? { onWait: (sweep) => options.onLockWait?.(sweep) } : {}),
  });
}

async function backupUnlocked(
  repo: Repository,
  options: BackupOptions,
  lock?: Lock,
): Promise<BackupResult> {
  const started = Date.now();
  const startedNs = BigInt(started) * 1_000_000n;
  const emit = options.onEvent ?? (() => {});
  const only = selectionOf(options);
  const given =
    only && options.paths.length === 0 ? [await listRoot(only, options.filesFrom!)] : options.paths;
  const sources = given.map((p) => resolve(p));
  // `link/` names the directory a symbolic link points to, as the kernel reads it.
  const followed = new Set(sources.filter((_, i) => namesDirectory(given[i]!)));
  await checkSources(given, sources, followed);
  if (only) noteRoots(only, sources);
  // Recorded with the `/` that made it followed: `link/` (the directory) and `link` (the
  // link itself) are different backups, each the other's parent or retention group never.
  const recorded = options.stdin
    ? [`${STDIN_PATH_PREFIX}${textOfPath(options.stdin.filename)}`]
    : sources.map((s) => textOfPath(followed.has(s) && s !== '/' ? `${s}/` : s));

  const hostname = options.hostname ?? osHostname();
  // The parent only names where this backup came from: a damaged record is passed over.
  const parentRef: SnapshotRef | undefined =
    options.parent !== undefined
      ? options.skipIfUnchanged
        ? {
            id: options.parent,
            snapshot: await repo.snapshots.load(options.parent, options.signal),
          }
        : undefined
      : (
          await repo.snapshots.list({ hostname, paths: recorded }, options.signal, (id, err) =>
            emit({
              type: 'notice',
              code: 'snapshot-unreadable',
              message: `snapshot ${id} cannot be read (${err.message}); not considered as the parent`,
            }),
          )
        )
          // With --time, the newest at or before it: the version an import comes after.
          .filter(
            (r) => options.time === undefined || r.snapshot.time <= options.time.toISOString(),
          )
          .at(-1);
  const parent = options.parent ?? parentRef?.id;
  emit({ type: 'start', operation: 'backup', paths: recorded, ...(parent ? { parent } : {}) });

  const blobs = repo.blobStore({ dryRun: options.dryRun ?? false });
  // A stream has no stat to compare: nothing to cache.
  const cache =
    options.statCacheDir === false || options.stdin
      ? undefined
      : await openStatCache(
          options.statCacheDir ?? repoCacheDir(repo.config.id),
          options.dryRun ?? false,
          emit,
        );
  const direct = blobs.directSetup();
  const pool = new ChunkPool(repo.config.chunker, repo.codec, {
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    direct,
    // Tree pages written on the workers come back to hold later pages.
    onSpareBuffer: givePageBuffer,
  });
  // Tree pages, too, are sealed and written on the workers when the repository is local.
  if (pool.canPutDirect)
    blobs.writeThrough((key, data, movable) => pool.putDirect(key, data, movable));
  // Directories are listed and lstat-ed ahead of the walk on a thread of their own,
  // unless worker threads are off.
  const tags = excludeTags(options);
  const xattrs = (options.xattrs ?? true) && xattrsReadable(emit);
  // Regular files' attributes are read by the scan thread when every file is going to be
  // read anyway (no stat cache yet, --force) or compared (--ignore-ctime); otherwise the
  // walk reads them for the files it reads (docs/design.md › Extended attributes).
  const everyFile =
    !cache || options.force === true || options.ignoreCtime === true || (await cache.isEmpty());
  const scanXattrs: ScanXattrs = !xattrs ? 'none' : everyFile ? 'all' : 'not-files';
  const scanner =
    pool.workers > 0 && !options.stdin ? DirScanner.start(tags, scanXattrs) : undefined;
  const walker = new BackupWalker({
    repo,
    blobs,
    pool,
    scanner,
    cache,
    force: options.force ?? false,
    excludes: new ExcludeMatcher(options.excludes ?? []),
    tags,
    oneFileSystem: options.oneFileSystem ?? false,
    xattrs,
    scanXattrs,
    only,
    fingerprintRules: {
      ignoreInode: options.ignoreInode ?? false,
      ignoreCtime: options.ignoreCtime ?? false,
    },
    maxFileSize: options.excludeLargerThan,
    verbose: options.verbose ?? false,
    fileConcurrency: options.fileConcurrency ?? (direct && pool.canPutDirect ? 16 : 4),
    startedNs,
    started,
    signal: options.signal,
    emit,
  });
  if (options.scan && !options.stdin) {
    scanTotals(sources, walker.filters, followed, options.signal)
      .then((t) => {
        walker.setTotals(t.files, t.bytes);
        emit({ type: 'scan-done', totalFiles: t.files, totalBytes: t.bytes });
      })
      .catch(() => {}); // totals are cosmetic; the walk reports real errors
  }

  let tree: ObjectId;
  try {
    const root = options.stdin
      ? await streamRoot(walker, options.stdin, blobs, repo)
      : await backupRoot(walker, sources, followed, blobs, repo);
    tree = root.tree;
    // Tree nodes are stored in batches after their ids are known: every one must be
    // before the snapshot record names the root.
    await root.stored;
  } finally {
    // Stat cache records wait for their trees; let them finish before the cache closes.
    const settled = walker.settle();
    await settled.catch(() => {});
    blobs.writeThrough(undefined);
    try {
      await Promise.all([cache?.close(), pool.close(), scanner?.close()]);
    } finally {
      dropPageBuffers();
    }
    await settled;
  }
  throwIfAborted(options.signal);
  for (const path of only?.missing() ?? []) walker.listedNotFound(path);
  walker.emitProgress(true);

  const summary: SnapshotSummary = {
    ...walker.counts,
    blobsAdded: blobs.stats.blobsAdded,
    bytesAdded: blobs.stats.bytesAdded,
    // A clock stepped back during the backup must not make the record unwritable.
    durationMs: Math.max(0, Date.now() - started),
  };
  const snapshot: Snapshot = {
    time: (options.time ?? new Date(started)).toISOString(),
    hostname,
    username: options.username ?? safeUsername(),
    paths: recorded,
    tags: [...new Set(options.tags ?? [])].sort(),
    tree,
    ...(parent ? { parent } : {}),
    summary,
    program: PROGRAM,
  };
  if (options.skipIfUnchanged && parentRef && sameContent(parentRef.snapshot, snapshot)) {
    // Everything the tree references is stored (the parent's, reused): nothing to record.
    return {
      snapshotId: undefined,
      snapshot,
      bytesRead: walker.counts.bytesRead,
      unchangedSince: parentRef.id,
    };
  }
  // Objects written by the workers' group commit got their names after a syncfs; one
  // more makes those names durable before the snapshot record refers to them.
  if (direct?.fsync && !options.dryRun) await syncFileSystem(direct.root);
  await lock?.confirm(options.signal);
  const snapshotId = options.dryRun ? undefined : await repo.snapshots.save(snapshot);
  return { snapshotId, snapshot, bytesRead: walker.counts.bytesRead };
}

/**
 * Refuses, before a lock is taken or anything stored, paths, tags, host and user that
 * the snapshot record could not hold: the record is written last, and one the decoder
 * refuses would make every later command on the repository fail.
 */
export function checkBackupOptions(options: BackupOptions): void {
  // A bad CAIRN_CHUNKER is refused here, not at the first large file (where a worker's
  // failure is a per-file warning and the file would be left out).
  wasmScanEnabled();
  if (options.stdin) checkStdinOptions(options, options.stdin);
  else if (options.paths.length === 0 && !options.filesFrom?.length) {
    throw new UsageError('backup needs at least one path');
  }
  if (options.filesFrom?.length === 0) throw new UsageError('--files-from lists no path');
  if (options.time !== undefined) checkBackupTime(options.time);
  if (options.filesFrom?.includes('')) throw new UsageError('--files-from lists an empty path');
  if (options.filesFrom && !options.stdin && options.paths.length > 0) {
    checkListedInside(
      options.filesFrom.map(absolutePath),
      options.paths.map((p) => resolve(p)),
    );
  }
  const max = options.excludeLargerThan;
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 0)) {
    throw new UsageError(`--exclude-larger-than must be a whole number of bytes >= 0, got ${max}`);
  }
  // resolve('') is the working directory: an empty argument (often an unset shell
  // variable) must not back that up.
  if (options.paths.includes('')) throw new UsageError('cannot back up an empty path');
  checkPaths(
    options.paths.map((p) => resolve(p)),
    refuseField,
  );
  checkTags(options.tags ?? [], refuseField);
  excludeTags(options);
  if (options.hostname !== undefined) checkText('host', options.hostname, refuseField);
  if (options.username !== undefined) checkText('user', options.username, refuseField);
}

/** A time a snapshot record can hold (years 0000 to 9999, UTC). */
function checkBackupTime(time: Date): void {
  const ms = time.getTime();
  if (Number.isNaN(ms)) throw new UsageError('the snapshot time is not a valid date');
  const iso = time.toISOString();
  if (!/^\d{4}-/.test(iso))
    throw new UsageError(`the snapshot time ${iso} is out of range (years 0000-9999)`);
}

/** The paths of `filesFrom`, made absolute from the working directory. */
function selectionOf(options: BackupOptions): PathSelection | undefined {
  if (!options.filesFrom || options.stdin) return undefined;
  return new PathSelection(options.filesFrom.map(absolutePath));
}

/**
 * Every listed path is inside a source (or is one, or holds one), and every source holds
 * a listed path (or is inside one): a source holding none would be backed up as an
 * empty directory.
 */
function checkListedInside(listed: readonly string[], sources: readonly string[]): void {
  const holding = new Set<string>();
  for (const path of listed) {
    const source = sources.find((s) => isWithin(path, s));
    if (source !== undefined) {
      holding.add(source);
      continue;
    }
    // A listed directory holding sources holds each of them.
    const inside = sources.filter((s) => isWithin(s, path));
    if (inside.length === 0) {
      throw new UsageError(
        `${textOfPath(path)} (listed in --files-from) is not inside any PATH given (${sources.map(textOfPath).join(', ')})`,
      );
    }
    for (const s of inside) holding.add(s);
  }
  for (const s of sources) {
    if (!holding.has(s)) {
      throw new UsageError(
        `${textOfPath(s)} holds no path --files-from lists: nothing to back up there`,
      );
    }
  }
}

/** True when `path` is `dir` or below it. */
function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}

/**
 * What a backup given a list and no PATH backs up: the working directory when every
 * path is written relative to it (`git ls-files`, `find .`: the same root whatever the
 * list holds this time, so parents and retention groups stay the same), else the
 * deepest directory holding them all (absolute lists from a job started in `/` or in
 * `$HOME` keep roots of their own); followed (`DIR/`) when it is a symbolic link, since
 * it holds the listed paths by construction.
 */
async function listRoot(only: PathSelection, written: readonly string[]): Promise<string> {
  const cwd = process.cwd();
  const relative = written.every((p) => !p.startsWith('/'));
  let inCwd = relative;
  for (const p of relative ? only.paths() : []) {
    if (!isWithin(p, cwd)) {
      inCwd = false; // `../elsewhere` lies outside: the common directory then
      break;
    }
  }
  const root = inCwd ? cwd : only.commonDirectory();
  if (root === '/') return root;
  const st = await lstat(fsPath(root)).catch(() => undefined);
  return st?.isSymbolicLink() ? `${root}/` : root;
}

/**
 * The sources, and listed directories above them, are found as the walk starts (no
 * directory listing the walk makes holds them).
 */
function noteRoots(only: PathSelection, sources: readonly string[]): void {
  for (const s of sources) {
    for (let at = s; ; at = dirname(at)) {
      only.noteFound(at);
      if (dirname(at) === at) break;
    }
  }
}

/**
 * True when extended attributes can be read here; else a notice saying why, once per
 * backup (not a warning: nothing that can be read is missing, and every backup on such
 * a machine would otherwise end with exit code 3).
 */
function xattrsReadable(emit: (event: BackupEvent) => void): boolean {
  const reason = xattrUnsupportedReason();
  if (reason === undefined) return true;
  emit({
    type: 'notice',
    code: 'xattrs-unavailable',
    message: `extended attributes are not recorded: ${reason}`,
  });
  return false;
}

/** The tag files of `--exclude-if-present` and `--exclude-caches`; UsageError for a bad one. */
function excludeTags(options: BackupOptions): TagExcluder {
  const tags = (options.excludeIfPresent ?? []).map(parseExcludeTag);
  if (options.excludeCaches) tags.push(CACHEDIR_EXCLUDE_TAG);
  return new TagExcluder(tags);
}

/**
 * The stat cache, read-only for a dry run (which stores nothing the cache could vouch
 * for, yet should tell new from unchanged files as the real backup will). A cache that
 * cannot be opened (a folder not writable, a full disk) only costs reading every file:
 * the backup goes on without it, with a notice.
 */
async function openStatCache(
  dir: string,
  dryRun: boolean,
  emit: (e: BackupEvent) => void,
): Promise<StatCache | undefined> {
  try {
    return await StatCache.open(dir, { readOnly: dryRun });
  } catch (err) {
    // LevelDB's open error carries the file-system one as its cause.
    const cause = errorCause((err as { cause?: unknown }).cause ?? err);
    emit({
      type: 'notice',
      code: 'stat-cache',
      message: `the stat cache in ${dir} cannot be used: ${cause}; every file is read`,
    });
    return undefined;
  }
}

/**
 * True when path `given` ends in `/` or `/.`: it names a directory, and a symbolic link
 * so named is followed (POSIX path resolution), where `resolve` drops the ending.
 */
function namesDirectory(given: string): boolean {
  return given.endsWith('/') || given.endsWith('/.');
}

/** The stat of source root `path`: lstat, or stat of one that `followed` names. */
function rootStat(path: string, followed: ReadonlySet<string>): Promise<BigIntStats> {
  const at = fsPath(path); // a name that is not UTF-8 comes as escapes (core/fs-names.ts)
  return followed.has(path) ? stat(at, { bigint: true }) : lstat(at, { bigint: true });
}

/**
 * Every source exists (a followed one as a directory), and none is given twice (however
 * spelled).
 */
async function checkSources(
  given: string[],
  sources: string[],
  followed: ReadonlySet<string>,
): Promise<void> {
  const problems: string[] = [];
  let first: unknown;
  for (const [i, s] of sources.entries()) {
    try {
      const st = await rootStat(s, followed);
      if (followed.has(s) && !st.isDirectory()) {
        throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      }
    } catch (err) {
      first ??= err;
      // A followed PATH as typed (`link/.`): its ending is what made it followed.
      problems.push(`cannot back up ${followed.has(s) ? given[i] : s}: ${errorCause(err)}`);
    }
  }
  // Every PATH that is wrong, not only the first.
  if (problems.length > 0) throw new UsageError(problems.join('; '), { cause: first });
  const seen = new Map<string, number>();
  sources.forEach((s, i) => {
    const first = seen.get(s);
    if (first === undefined) {
      seen.set(s, i);
      return;
    }
    const spelled =
      given[first] === given[i]
        ? ''
        : ` (as ${JSON.stringify(given[first])} and ${JSON.stringify(given[i])})`;
    throw new UsageError(`${s} is given twice${spelled}`);
  });
}

/** Builds the root tree: one directory's own tree, or a synthetic root over the sources. */
async function backupRoot(
  walker: BackupWalker,
  sources: string[],
  followed: ReadonlySet<string>,
  blobs: BlobStore,
  repo: Repository,
): Promise<{ tree: ObjectId; stored: Promise<void> }> {
  if (sources.length === 1) {
    const st = await rootStat(sources[0]!, followed);
    if (st.isDirectory()) {
      walker.counts.dirs++;
      return walker.directory(sources[0]!, st, undefined, true);
    }
  }
  const named = sources.map((path) => ({ path, name: basename(path) }));
  for (const n of named) {
    if (n.name === '' || n.name === '.' || n.name === '..') {
      throw new UsageError(
        `${n.path} cannot be combined with other paths: it has no name of its own`,
      );
    }
  }
  named.sort((a, b) => compareNames(a.name, b.name));
  for (let i = 1; i < named.length; i++) {
    if (named[i]!.name === named[i - 1]!.name) {
      throw new UsageError(
        `${named[i - 1]!.path} and ${named[i]!.path} have the same name; back them up separately`,
      );
    }
  }
  const writer = new DirectoryWriter(blobs, repo.config.paging);
  walker.watchRoots(sources);
  for (const { path, name } of named) {
    const st = followed.has(path) ? await rootStat(path, followed) : undefined;
    const child = await walker.child(path, name, st);
    if (child) await writer.add(child.entry, child.stored);
  }
  // Not one source could be read or listed: the snapshot would hold nothing of them.
  if (walker.rootFailures.size === named.length) {
    const causes = [...walker.rootFailures].map(([path, err]) => `${path}: ${errorCause(err)}`);
    const message =
      named.length === 1
        ? `cannot back up ${causes[0]}`
        : `cannot back up any of the paths given (${causes.join('; ')})`;
    throw new CairnError('io', message, { cause: walker.rootFailures.values().next().value });
  }
  walker.counts.dirs++;
  // The root's nodes wait for the subtrees they name: its `stored` covers everything.
  return writer.finishDeferred();
}

/** The snapshot of a stream: one file, named `stdin.filename`, at the root. */
async function streamRoot(
  walker: BackupWalker,
  stdin: NonNullable<BackupOptions['stdin']>,
  blobs: BlobStore,
  repo: Repository,
): Promise<{ tree: ObjectId; stored: Promise<void> }> {
  const entry = stdin.source
    ? await walker.stream(stdin.source, stdin.filename, 'the stream')
    : await walker.stream(process.stdin, stdin.filename, 'standard input');
  const writer = new DirectoryWriter(blobs, repo.config.paging);
  await writer.add(entry);
  walker.counts.dirs++;
  return writer.finishDeferred();
}

/** Refuses what a backup of a stream cannot take: paths, filters, a bad file name. */
function checkStdinOptions(
  options: BackupOptions,
  stdin: NonNullable<BackupOptions['stdin']>,
): void {
  if (options.paths.length > 0) {
    throw new UsageError('a backup of standard input takes no paths: back them up separately');
  }
  const problem = nameProblem(stdin.filename);
  if (problem) {
    throw new UsageError(`--stdin-filename ${JSON.stringify(stdin.filename)}: ${problem}`);
  }
  const filters = [
    ['--exclude', (options.excludes ?? []).length > 0],
    ['--exclude-if-present', (options.excludeIfPresent ?? []).length > 0],
    ['--exclude-caches', options.excludeCaches === true],
    ['--one-file-system', options.oneFileSystem === true],
    ['--exclude-larger-than', options.excludeLargerThan !== undefined],
    ['--files-from', options.filesFrom !== undefined],
  ] as const;
  for (const [option, given] of filters) {
    if (given)
      throw new UsageError(`${option} has nothing to filter in a backup of standard input`);
  }
}

function safeUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
