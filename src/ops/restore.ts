/**
 * `restore`: writes a snapshot (or parts of it) into a target directory, which may
 * already hold another version.
 *
 * Files already matching the snapshot stay untouched (their content is recognised by
 * chunking them with the repository's parameters). Other files are rebuilt from chunks
 * found locally — in the target and in any seed directories — plus the chunks missing
 * there, fetched from the repository. Every chunk, local or fetched, is verified against
 * its id before it is written, so the result is verified against the snapshot. See
 * restore-fs.ts for how files are replaced atomically.
 *
 * From a local repository, worker threads (restore-pool.ts) write batches of the small
 * files of new directories, and chunked files (read, verified and written there), while
 * this thread reads the trees. Files with chunks found in local files, and restores from
 * other backends, go through this thread.
 *
 * Names come from an untrusted repository but were validated by the decoder (no `/`,
 * `.`, `..`, NUL); restore also refuses to descend through a symlink it finds where a
 * directory should be, so nothing is ever written outside the target.
 */
import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { chmod, lchown, lstat, mkdir, open, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { errnoCode } from '../backends/fs-errors.js';
import { LocalBackend } from '../backends/local.js';
import { wasmScanEnabled } from '../chunker/scan-wasm.js';
import { shareSignal, throwIfAborted } from '../core/abort.js';
import { DirRef, withFsPath, withFsPathSync } from '../core/deep-path.js';
import {
  CairnError,
  describeError,
  IntegrityError,
  NotFoundError,
  UsageError,
} from '../core/errors.js';
import { visiblePath } from '../core/format.js';
import { readdirNames } from '../core/fs-names.js';
import type { ObjectId } from '../core/ids.js';
import { mapConcurrent, Semaphore } from '../core/limit.js';
import { makeDirectories } from '../core/mkdirs.js';
import { isRoot } from '../core/process.js';
import { xattrUnsupportedReason } from '../core/xattrs.js';
import { isAllZero } from '../core/zeros.js';
import type { DirEntry, Entry, FileEntry, Snapshot } from '../manifest/types.js';
import { codecSetup } from '../repo/codec-setup.js';
import type { Repository } from '../repo/repository.js';
import { TreeReader } from '../repo/tree-store.js';
import { type RestoreEvent, Throttle } from './events.js';
import { ExcludeMatcher } from './exclude.js';
import { LocalChunkIndex } from './local-chunks.js';
import {
  hardLinkSync,
  isRestoreTempName,
  makeFifo,
  makeStagedDirSync,
  newFileOwner,
  type Owner,
  publishStagedDirSync,
  removeWholeTree,
  replaceWith,
  type SmallFile,
  toSeconds,
  utimeArg,
  writeSmallFileSync,
  writeSymlinkSync,
  writevAll,
} from './restore-fs.js';
import { RestorePool, restoreWorkers } from './restore-pool.js';
import { addXattrs, missingXattrs, setNewXattrs } from './restore-xattrs.js';
import { findEntry, splitSnapshotPath } from './snapshot-path.js';

/** What to do with a file that already exists in the target. */
export type OverwriteMode = 'changed' | 'always' | 'never';

/** Options for `restore`. */
export interface RestoreOptions {
  /** Directory to restore into (created if missing). */
  target: string;
  /** Restore only these snapshot paths (and everything below them). */
  include?: string[];
  /**
   * Exclude globs (exclude.ts), matched against paths inside the snapshot as `find` and
   * `rewrite` match them (`/a/b` for the snapshot's `a/b`), below the included paths:
   * what they match is neither restored nor, with `delete`, deleted from the target.
   */
  exclude?: string[];
  /**
   * Restore extended attributes (default true): set on what is written, and on what is
   * found in place those it lacks or holds with another value (none is ever removed).
   * Without root, `trusted.*` and `security.*` are skipped, as ownership is; what cannot
   * be set is a warning.
   */
  xattrs?: boolean;
  /**
   * Existing files: `changed` (default) keeps files whose content already matches and
   * rebuilds the others; `always` rewrites every file; `never` leaves every existing
   * file as it is.
   */
  overwrite?: OverwriteMode;
  /** More directories whose files may hold chunks of the snapshot (older versions). */
  seeds?: string[];
  /** Remove what the snapshot does not have from the directories it restores. */
  delete?: boolean;
  /** Work out what would be fetched, reused and deleted; change nothing. */
  dryRun?: boolean;
  /** Emit a `file` event per file. */
  verbose?: boolean;
  /** Files written at once (default 8). */
  concurrency?: number;
  /**
   * Worker threads that write files from a local repository (default: `CAIRN_WORKERS`,
   * else the number of cores, at most 4); 0 writes everything on the calling thread.
   */
  workers?: number;
  signal?: AbortSignal;
  onEvent?: (event: RestoreEvent) => void;
}

/** What `restore` did (or, with dryRun, would do). */
export interface RestoreSummary {
  files: number;
  dirs: number;
  symlinks: number;
  specials: number;
  bytes: number;
  /** Files that already matched and were left untouched. */
  filesUnchanged: number;
  /** Existing files left as they were because of `overwrite: 'never'`. */
  filesSkipped: number;
  /**
   * Bytes of chunks not fetched: copied from local files, repeats of a chunk this restore
   * already has, and all-zero chunks left as holes.
   */
  bytesReused: number;
  /** Bytes of chunks read from the repository. */
  bytesFetched: number;
  /** Bytes of local files read to find reusable chunks. */
  bytesIndexed: number;
  /** Files and directories removed by `delete`. */
  deleted: number;
  /** Entries left out by `exclude` (a directory counts once, with everything in it). */
  excluded: number;
  /** Entries that could not be restored (each was reported as a warning). */
  errors: number;
  durationMs: number;
}

/** Chunks of one file fetched at once (they are written in order). */
const CHUNK_FETCHES_PER_FILE = 8;
/** Bytes of consecutive chunks written with one call. */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Entries of one directory restored at once (files with chunks, subdirectories). */
const ENTRIES_IN_FLIGHT = 16;
/**
 * Small files written on the calling thread before the worker pool takes over (a small
 * restore does not pay for starting workers), and chunked files at least this large
 * start it on their own.
 */
const SMALL_FILES_BEFORE_POOL = 256;
const POOL_FILE_BYTES = 4 * 1024 * 1024;
/** A batch of small files for a worker: at most this many files or content bytes. */
const SMALL_BATCH_FILES = 200;
const SMALL_BATCH_BYTES = 1024 * 1024;
/** Batches of small files given to the pool and not yet written, per worker. */
const SMALL_BATCHES_PER_WORKER = 3;

/** Restores snapshot `snapshotId` (record `snapshot`) from `repo` into `options.target`. */
export async function restore(
  repo: Repository,
  snapshotId: ObjectId,
  snapshot: Snapshot,
  options: RestoreOptions,
): Promise<RestoreSummary> {
  shareSignal(options.signal);
  wasmScanEnabled(); // a bad CAIRN_CHUNKER is refused before anything is written
  const includes = options.include?.length ? options.include : undefined;
  let totals = { files: snapshot.summary.files, bytes: snapshot.summary.bytes };
  const targets: Array<{ entry: Entry | undefined; dir: string; parts: string[] }> = [];
  if (includes) {
    totals = { files: 0, bytes: 0 };
    const paths = includes.map((inc) => splitSnapshotPath(inc));
    const kept = outermost(paths);
    for (const [i, inc] of includes.entries()) {
      const parts = paths[i]!;
      const entry =
        parts.length === 0
          ? undefined
          : await findEntry(repo, snapshot.tree, parts, options.signal);
      if (parts.length > 0 && !entry)
        throw new NotFoundError(inc, `${visiblePath(inc)} is not in snapshot ${snapshotId}`);
      // One inside another is restored (and counted) as part of it.
      if (!kept.has(i)) continue;
      if (!entry) totals = { files: snapshot.summary.files, bytes: snapshot.summary.bytes };
      else if (entry.kind === 'dir') {
        totals.files += entry.files;
        totals.bytes += entry.bytes;
      } else if (entry.kind === 'file') {
        totals.files++;
        totals.bytes += entry.size;
      }
      targets.push({ entry, dir: join(options.target, ...parts.slice(0, -1)), parts });
    }
  }
  await checkTarget(options.target);
  for (const seed of options.seeds ?? []) await checkSeed(seed);
  const run = new RestoreRun(repo, options, totals);
  try {
    return await restoreWith(run, snapshotId, snapshot, options, targets, totals);
  } finally {
    await run.closePool();
  }
}

/**
 * Indexes of the snapshot paths not inside (or equal to) another one: `-i dir -i
 * dir/file` restores and counts `dir/file` once, as part of `dir`; of equal paths the
 * first is kept.
 */
function outermost(paths: string[][]): Set<number> {
  const within = (inner: string[], outer: string[]) =>
    outer.length <= inner.length && outer.every((p, i) => inner[i] === p);
  const kept = new Set<number>();
  paths.forEach((a, i) => {
    const covered = paths.some((b, j) => j !== i && within(a, b) && (b.length < a.length || j < i));
    if (!covered) kept.add(i);
  });
  return kept;
}

/** Refuses a target that exists and is not a directory (or a link to one), dry run or not. */
async function checkTarget(target: string): Promise<void> {
  let st: Stats;
  try {
    st = await withFsPath(target, (p) => stat(p));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const link = await withFsPath(target, (p) => lstat(p)).catch(() => undefined);
      if (link?.isSymbolicLink()) {
        throw new UsageError(`restore target ${target} is a symbolic link to nothing`);
      }
      return; // made by the restore
    }
    if (code === 'ENOTDIR') {
      throw new UsageError(`restore target ${target}: a parent of it is not a directory`);
    }
    throw err;
  }
  if (!st.isDirectory()) {
    throw new UsageError(`restore target ${target} exists and is not a directory`);
  }
}

/** Refuses a seed that is not a directory: a typo would silently cost a full download. */
async function checkSeed(seed: string): Promise<void> {
  let st: Stats;
  try {
    st = await withFsPath(seed, (p) => stat(p));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `restore seed ${seed}: ${code === 'ENOENT' ? 'no such directory' : code}`,
      {
        cause: err,
      },
    );
  }
  if (!st.isDirectory()) throw new UsageError(`restore seed ${seed} is not a directory`);
}

/** `restore` once the run is set up (the caller stops its workers afterwards). */
async function restoreWith(
  run: RestoreRun,
  snapshotId: ObjectId,
  snapshot: Snapshot,
  options: RestoreOptions,
  targets: Array<{ entry: Entry | undefined; dir: string; parts: string[] }>,
  totals: { files: number; bytes: number },
): Promise<RestoreSummary> {
  run.emit({
    type: 'start',
    operation: 'restore',
    snapshot: snapshotId,
    target: options.target,
    totalFiles: totals.files,
    totalBytes: totals.bytes,
  });
  const targetEmpty = await run.indexLocalChunks();
  let created = false;
  if (!options.dryRun)
    created = (await withFsPath(options.target, (p) => makeDirectories(p))) !== undefined;
  if (!created && !options.dryRun) await run.openTarget(options.target);
  try {
    await restoreEntries(run, snapshot, options, targets, created || targetEmpty);
  } finally {
    await run.putBackWritableModes();
  }
  run.progress(true);
  return { ...run.summary, durationMs: Date.now() - run.started };
}

/** The snapshot's entries (or the included ones) into the target. */
async function restoreEntries(
  run: RestoreRun,
  snapshot: Snapshot,
  options: RestoreOptions,
  targets: Array<{ entry: Entry | undefined; dir: string; parts: string[] }>,
  fresh: boolean,
): Promise<void> {
  const includes = options.include?.length ? options.include : undefined;
  if (!includes) {
    // The target is the snapshot's root directory, which backup counted too.
    run.summary.dirs++;
    await run.directoryContents(snapshot.tree, place(options.target, fresh));
  } else {
    for (const t of targets) {
      if (!t.entry) await run.directoryContents(snapshot.tree, place(options.target));
      else {
        await run.ensureParents(options.target, t.parts.slice(0, -1));
        await run.entry(run.withXattrs(t.entry), place(t.dir));
      }
    }
    // Parents last: writing into a directory changes its mtime, and a read-only mode
    // would stop later includes from writing into it.
    const parents = new Map<string, string[]>();
    for (const t of targets) {
      for (let depth = 1; depth < t.parts.length; depth++) {
        parents.set(t.parts.slice(0, depth).join('/'), t.parts.slice(0, depth));
      }
    }
    const deepestFirst = [...parents.values()].sort((a, b) => b.length - a.length);
    await run.parentMetadata(snapshot.tree, options.target, deepestFirst);
  }
}

class RestoreRun {
  readonly started = Date.now();
  readonly summary = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    specials: 0,
    bytes: 0,
    filesUnchanged: 0,
    filesSkipped: 0,
    bytesReused: 0,
    bytesFetched: 0,
    bytesIndexed: 0,
    deleted: 0,
    excluded: 0,
    errors: 0,
  };
  private readonly fileSlots: Semaphore;
  /** The `exclude` patterns, when there are any. */
  private readonly excluder: ExcludeMatcher | undefined;
  /** The target as the paths of places below it start (for path patterns). */
  private readonly root: string;
  private readonly throttle = new Throttle(200);
  /** First restored path of each hard-link group, once that file is complete. */
  private readonly hardlinks = new Map<string, Promise<string | undefined>>();
  /**
   * The inode of each hard-link group whose first file was found already in place: a
   * later member already linked to it is in place too.
   */
  private readonly hardlinkInodes = new Map<string, { dev: number; ino: number }>();
  /** Where each staged directory not yet renamed into place is now, by its path. */
  private readonly staged = new Map<string, string>();
  /** Existing directories made writable, by path, with their own modes (see putBackWritableModes). */
  private readonly madeWritable = new Map<string, number>();
  private local: LocalChunkIndex | undefined;
  private readonly overwrite: OverwriteMode;
  private readonly dryRun: boolean;
  /** Bytes written so far of files not yet complete (for progress). */
  private partialBytes = 0;
  /** Ids of chunks seen to be all zeros (restored as holes without fetching again). */
  private readonly zeroChunks = new Set<ObjectId>();
  /** Chunks being fetched or read now, by id (see `chunk`). */
  private readonly chunksComing = new Map<ObjectId, Promise<Uint8Array | number>>();
  /** The id of so many zero bytes, by size (dry runs). */
  private readonly zeroIds = new Map<number, ObjectId>();
  /** Lists each directory once, keeping only small nodes (see TreeReader.forWalk). */
  private readonly trees: TreeReader;
  /** Worker threads writing files (local repositories; see restore-pool.ts). */
  private readonly pool: RestorePool | undefined;
  private readonly poolSize: number;
  /** Batches of small files given to the pool and not yet settled. */
  private readonly smallBatches = new Set<Promise<void>>();
  /** Extended attributes are restored (RestoreOptions.xattrs). */
  private readonly xattrsOn: boolean;
  /** The notice that they cannot be set here has been given. */
  private xattrsNoted = false;
  /** Small files written so far on this thread (see SMALL_FILES_BEFORE_POOL). */
  private smallWritten = 0;
  private readonly onAbort = () => this.pool?.abort();

  constructor(
    private readonly repo: Repository,
    private readonly options: RestoreOptions,
    private readonly totals: { files: number; bytes: number },
  ) {
    this.fileSlots = new Semaphore(options.concurrency ?? 8);
    this.overwrite = options.overwrite ?? 'changed';
    this.dryRun = options.dryRun ?? false;
    this.xattrsOn = options.xattrs ?? true;
    this.trees = TreeReader.forWalk(repo.blobs);
    if (!['changed', 'always', 'never'].includes(this.overwrite)) {
      throw new UsageError(`overwrite must be changed, always or never, got ${this.overwrite}`);
    }
    const exclude = options.exclude?.filter((p) => p !== '') ?? [];
    this.excluder = exclude.length > 0 ? new ExcludeMatcher(exclude) : undefined;
    this.root = join(options.target, '.');
    this.poolSize = restoreWorkers(options.workers);
    const backend = repo.backend;
    if (this.poolSize > 0 && !this.dryRun && backend instanceof LocalBackend) {
      this.pool = new RestorePool({ root: backend.root, ...codecSetup(repo.codec) }, this.poolSize);
      options.signal?.addEventListener('abort', this.onAbort);
    }
  }

  /** Stops the worker threads, if any were started. */
  async closePool(): Promise<void> {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    await Promise.allSettled(this.smallBatches);
    await this.pool?.close();
  }

  emit(event: RestoreEvent): void {
    this.options.onEvent?.(event);
  }

  progress(force = false): void {
    if (!force && !this.throttle.due()) return;
    this.emit({
      type: 'progress',
      operation: 'restore',
      files: this.summary.files,
      bytes: this.summary.bytes + this.partialBytes,
      totalFiles: this.totals.files,
      totalBytes: this.totals.bytes,
      elapsedMs: Date.now() - this.started,
    });
  }

  private warn(path: string, err: unknown): void {
    this.summary.errors++;
    this.emit({
      type: 'warning',
      path,
      message: describeError(err, false),
      code: err instanceof CairnError ? err.code : 'io',
    });
  }

  /**
   * Chunks the files already in the target and the seed directories, when there are any.
   * True when the target holds nothing at all (or does not exist yet).
   */
  async indexLocalChunks(): Promise<boolean> {
    const dirs = [this.options.target, ...(this.options.seeds ?? [])];
    const present: string[] = [];
    let targetEmpty = false;
    for (const d of dirs) {
      const names = await listNames(d);
      if (d === this.options.target && names.length === 0) targetEmpty = true;
      // Leftovers of an interrupted restore count: its staged directories hold chunks.
      if (names.length > 0) present.push(d);
    }
    if (present.length === 0) return targetEmpty;
    this.local = new LocalChunkIndex(this.repo.config.chunker, (data) =>
      this.repo.codec.idOf(data),
    );
    await this.local.addTrees(present, this.options.signal);
    this.summary.bytesIndexed = this.local.bytesIndexed;
    return targetEmpty;
  }

  /** Creates the directories `parts` under `root` (for --include), refusing symlinks. */
  async ensureParents(root: string, parts: string[]): Promise<void> {
    let dir = root;
    for (const p of parts) {
      dir = join(dir, p);
      await this.ensureDirectory(dir);
    }
  }

  /**
   * Gives the parent directories of included paths their metadata from the snapshot
   * (mode, owner, mtime), in the order given (deepest first).
   */
  async parentMetadata(root: ObjectId, target: string, dirs: string[][]): Promise<void> {
    if (this.dryRun) return;
    for (const parts of dirs) {
      const entry = await findEntry(this.repo, root, parts, this.options.signal);
      if (entry?.kind !== 'dir') continue;
      const path = join(target, ...parts);
      try {
        await this.applyMetadata(this.withXattrs(entry), path);
        this.madeWritable.delete(path);
      } catch (err) {
        this.warn(path, err);
      }
    }
  }

  /**
   * Makes `path` a real directory; refuses to go through a symlink. True when this call
   * created it (so it starts empty).
   */
  private async ensureDirectory(path: string, where: string = path): Promise<boolean> {
    if (this.dryRun) return false;
    return withFsPath(where, async (at) => {
      try {
        await mkdir(at, { mode: 0o700 });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const st = await lstat(at);
      if (st.isSymbolicLink())
        throw new UsageError(`refusing to restore into ${path}: it is a symbolic link`);
      if (st.isDirectory()) {
        if (await writableForOwner(at, st)) this.madeWritable.set(path, st.mode & 0o7777);
        return false;
      }
      if (!this.options.delete) {
        throw new UsageError(
          `cannot restore directory ${path}: a file is in the way (use --delete to replace it)`,
        );
      }
      await unlink(at);
      this.deleted(path);
      await mkdir(at, { mode: 0o700 });
      return true;
    });
  }

  private deleted(path: string): void {
    this.summary.deleted++;
    this.emit({ type: 'delete', path });
  }

  /** Restores every entry of tree `tree` into the existing directory `into`. */
  async directoryContents(tree: ObjectId, into: Place): Promise<void> {
    const { path: dir, at, fresh } = into;
    // The snapshot's names here, kept in an existing directory: all of them for
    // --delete, else those a leftover of an interrupted restore could have.
    const keep = fresh ? undefined : new Set<string>();
    // This directory's path in the snapshot, for path patterns (`/a/b`; '' at the root).
    const inSnapshot = this.excluder?.matchesPaths ? this.snapshotPathOf(dir) : '';
    const entries = this.trees.entries(tree, this.options.signal);
    // Up to ENTRIES_IN_FLIGHT entries (files with chunks, subdirectories) at once, in no
    // particular order; small files of a new directory are written on the spot.
    const inFlight = new Set<Promise<void>>();
    const created = fresh && !this.dryRun ? newFileOwner(at) : undefined;
    // Held open for the small files written on the spot (one path resolution per
    // directory, not per file); closed only after everything below has settled.
    let ref: DirRef | undefined;
    if (fresh && !this.dryRun) {
      try {
        ref = DirRef.open(at);
      } catch {
        // each file then reports the problem itself
      }
    }
    let fatal: { err: unknown } | undefined;
    // Small files for the worker pool (see sendSmall), and the batches given.
    let small: FileEntry[] = [];
    let smallBytes = 0;
    const batches: Promise<void>[] = [];
    const sendSmall = async (): Promise<void> => {
      if (small.length === 0) return;
      const p = this.writeSmallBatch(into, created, small).catch((err: unknown) => {
        fatal ??= { err };
      });
      small = [];
      smallBytes = 0;
      batches.push(p);
      await this.roomForSmall(p);
    };
    try {
      for await (const listed of entries) {
        if (fatal) break;
        const e = this.withXattrs(listed);
        if (keep && (this.options.delete || isRestoreTempName(e.name))) keep.add(e.name);
        // Kept in `keep` first: what is excluded is not deleted from the target either
        // (nor is an extra that a pattern matches: see deleteExtras).
        if (this.excluder && this.leftOut(`${inSnapshot}/${e.name}`, e)) continue;
        if (fresh && this.pool && this.poolTakesSmall() && isSmallFile(e)) {
          throwIfAborted(this.options.signal);
          small.push(e);
          smallBytes += e.inline?.length ?? 0;
          if (small.length >= SMALL_BATCH_FILES || smallBytes >= SMALL_BATCH_BYTES)
            await sendSmall();
          continue;
        }
        if (fresh && this.restoreNewSync(e, into, ref, created)) continue;
        const p: Promise<void> = this.entry(e, into).then(
          () => {
            inFlight.delete(p);
          },
          (err: unknown) => {
            inFlight.delete(p);
            fatal ??= { err };
          },
        );
        inFlight.add(p);
        if (inFlight.size >= ENTRIES_IN_FLIGHT) await Promise.race(inFlight);
      }
      if (!fatal) await sendSmall();
    } finally {
      // Nothing keeps writing after this returns, even when the listing failed.
      await Promise.all(inFlight);
      await Promise.all(batches);
      ref?.close();
    }
    if (fatal) throw fatal.err;
    if (keep && this.options.delete) await this.deleteExtras(dir, into.at, keep);
    else if (keep && this.local && !this.dryRun) await this.removeLeftoverTemps(dir, into.at, keep);
  }

  /**
   * True when `e`, at `path` in the snapshot, is excluded: it is counted, and taken off
   * the totals progress shows.
   */
  private leftOut(path: string, e: Entry): boolean {
    if (!this.excluder!.excludes(path, e.name)) return false;
    this.summary.excluded++;
    if (e.kind === 'file') {
      this.totals.files--;
      this.totals.bytes -= e.size;
    } else if (e.kind === 'dir') {
      this.totals.files -= e.files;
      this.totals.bytes -= e.bytes;
    }
    return true;
  }

  /** The snapshot path (`/a/b`, '' for the root) restored at target path `dir`. */
  private snapshotPathOf(dir: string): string {
    // Target paths are normalized (childPath), so the root is a prefix; `relative` would
    // rebuild the whole path at every level of a deep tree (quadratic in its depth).
    const root = this.root;
    if (dir === root) return '';
    if (root === '.') return `/${dir}`;
    const prefix = root.endsWith('/') ? root : `${root}/`;
    if (dir.startsWith(prefix)) return `/${dir.slice(prefix.length)}`;
    const rel = relative(root, dir);
    return rel === '' ? '' : `/${rel}`;
  }

  /** True once small files of new directories go to the worker pool. */
  private poolTakesSmall(): boolean {
    return this.smallWritten >= SMALL_FILES_BEFORE_POOL || this.pool?.started === true;
  }

  /**
   * Writes `files` (small files of `into`, a directory this restore created) on a worker.
   * Rejects only when the pool fails or the restore is aborted; a file that cannot be
   * written is a warning, as on this thread.
   */
  private async writeSmallBatch(
    into: Place,
    created: Owner | undefined,
    files: FileEntry[],
  ): Promise<void> {
    const failed = await this.pool!.smallFiles(into.at, created, files as SmallFile[], into.staged);
    let next = 0;
    const verbose = Boolean(this.options.verbose);
    for (let i = 0; i < files.length; i++) {
      const e = files[i]!;
      const failure = failed[next]?.index === i ? failed[next++] : undefined;
      // The path only when something is said about the file (100,000 strings otherwise).
      const path = failure || verbose ? childPath(into, into.path, e.name) : '';
      if (failure) this.warn(path, failure.error);
      if (!failure || failure.written) this.countFile(e, path, 'write');
    }
  }

  /** Waits while the pool holds enough batches of small files (memory stays bounded). */
  private async roomForSmall(p: Promise<void>): Promise<void> {
    const tracked = p.finally(() => this.smallBatches.delete(tracked));
    this.smallBatches.add(tracked);
    while (this.smallBatches.size >= this.poolSize * SMALL_BATCHES_PER_WORKER) {
      await Promise.race(this.smallBatches);
    }
  }

  /**
   * Restores `e` into `into`, a directory this restore created, synchronously when it is
   * a file whose content is in the tree (inline or empty) or a symlink: for these, sync
   * calls cost microseconds where a chain of promises through the thread pool costs tens.
   * False when `e` needs the general path.
   *
   * Nothing is checked for being in the way: the directory was empty when created and
   * only this restore writes names from this listing into it. A concurrent writer could
   * still put something there; the rename then replaces a file or symlink of that name
   * (as it would after a check, which could not be atomic with the rename either) and
   * fails on a directory, a warning. In a staged directory (reachable only through its
   * temporary name) the exclusive create fails instead (EEXIST, a warning). Nothing is
   * ever followed: a rename replaces a symlink itself.
   */
  private restoreNewSync(
    e: Entry,
    into: Place,
    ref: DirRef | undefined,
    created: Owner | undefined,
  ): boolean {
    if (this.dryRun) return false;
    const isSmallFile = e.kind === 'file' && e.chunks.length === 0 && e.hardlink === undefined;
    if (!isSmallFile && e.kind !== 'symlink') return false;
    throwIfAborted(this.options.signal);
    const path = childPath(into, into.path, e.name);
    try {
      if (e.kind === 'file') {
        const problem = writeSmallFileSync(e, ref ?? into.at, created, into.staged);
        this.smallWritten++;
        this.countFile(e, path, 'write');
        this.warnXattrs(path, problem);
      } else if (e.kind === 'symlink') {
        const at = childPath(into, into.at, e.name);
        const problem = writeSymlinkSync(e, into.at, at, into.staged);
        this.summary.symlinks++;
        this.warnXattrs(path, problem);
      }
    } catch (err) {
      this.warn(path, err);
    }
    return true;
  }

  /**
   * Removes the temporary files and staged directories an interrupted earlier restore
   * left in `dir`, before the directory gets its metadata (so its mtime is kept): names
   * of a temporary's exact shape, unless the snapshot has that name here (`keep`). Every
   * temporary name of this run in `dir` is gone by now.
   */
  private async removeLeftoverTemps(dir: string, at: string, keep: Set<string>): Promise<void> {
    const present = await listNames(at);
    for (const name of present) {
      if (!isRestoreTempName(name) || keep.has(name)) continue;
      const path = join(dir, name);
      await removeWholeTree(join(at, name)).catch((err: unknown) => this.warn(path, err));
    }
  }

  /** Removes what `dir` (reached as `at`) holds beyond `keep` (the snapshot's names). */
  private async deleteExtras(dir: string, at: string, keep: Set<string>): Promise<void> {
    const present = await listNames(at);
    const inSnapshot = this.excluder?.matchesPaths ? this.snapshotPathOf(dir) : '';
    for (const name of present) {
      if (keep.has(name)) continue;
      if (isRestoreTempName(name)) {
        // left by an interrupted earlier restore: not user data, not reported (whatever
        // the patterns say: it is none of the user's)
        if (!this.dryRun) await removeWholeTree(join(at, name)).catch(() => {});
        continue;
      }
      // What the patterns exclude is out of the restore's reach, as rsync leaves it.
      const below = `${inSnapshot}/${name}`;
      if (this.excluder?.excludes(below, name)) continue;
      const path = join(dir, name);
      try {
        const why = { excluded: false };
        if (!(await this.removeExtra(path, join(at, name), below, why))) {
          this.emit({
            type: 'notice',
            code: 'kept-excluded',
            path,
            message: why.excluded
              ? 'not deleted: it holds entries the exclude patterns match'
              : 'not deleted: it holds entries that could not be examined',
          });
        }
      } catch (err) {
        this.warn(path, err);
      }
    }
  }

  /**
   * Removes `path` (reached as `at`), which the snapshot does not have; `inSnapshot` is
   * where it would be in the snapshot. With exclude patterns, what they match below it
   * stays, with the directories holding it, as rsync keeps them (the rest of each such
   * directory is removed). True when it is gone.
   */
  private async removeExtra(
    path: string,
    at: string,
    inSnapshot: string,
    why = { excluded: false },
  ): Promise<boolean> {
    if (!this.excluder) {
      if (!this.dryRun) await removeWholeTree(at);
      this.deleted(path);
      return true;
    }
    const removed: string[] = [];
    const gone = await this.clearExtra(path, at, inSnapshot, removed, why);
    if (gone) this.deleted(path);
    else for (const p of removed) this.deleted(p);
    return gone;
  }

  /**
   * One pass, children first: removes what the patterns spare below `at` and, when
   * nothing below it was kept, `at` itself (true). Else the removed paths, a wholly
   * removed directory as one, go to `removed`. What cannot be listed or examined stays,
   * with a warning: it might hold what the patterns match.
   */
  private async clearExtra(
    path: string,
    at: string,
    inSnapshot: string,
    removed: string[],
    why: { excluded: boolean },
  ): Promise<boolean> {
    const st = withFsPathSync(at, (where) => lstatSync(where));
    if (!st.isDirectory()) {
      if (!this.dryRun) await removeWholeTree(at);
      return true;
    }
    const names = await withFsPath(at, (where) => readdirNames(where));
    let kept = false;
    const gone: string[] = [];
    const below: string[] = [];
    for (const name of names) {
      const inside = `${inSnapshot}/${name}`;
      if (this.excluder!.excludes(inside, name)) {
        kept = true;
        why.excluded = true;
        continue;
      }
      const childPath = join(path, name);
      const sub: string[] = [];
      try {
        if (await this.clearExtra(childPath, join(at, name), inside, sub, why)) {
          gone.push(childPath);
        } else {
          kept = true;
          below.push(...sub);
        }
      } catch (err) {
        if (stopsRestore(err)) throw err;
        this.warn(childPath, err);
        kept = true;
      }
    }
    if (!kept) {
      if (!this.dryRun) await withFsPath(at, (where) => rmdir(where));
      return true;
    }
    removed.push(...gone, ...below);
    return false;
  }

  /** Restores one entry into directory `into`. */
  async entry(e: Entry, into: Place): Promise<void> {
    throwIfAborted(this.options.signal);
    const { fresh } = into;
    const path = childPath(into, into.path, e.name);
    // Where the entry goes now: `path` unless `into` is staged.
    const at = childPath(into, into.at, e.name);
    try {
      switch (e.kind) {
        case 'dir':
          await this.directory(e, into);
          break;
        case 'file':
          await this.file(e, into, path);
          break;
        case 'symlink':
          if (fresh || (await this.clearWay(path, at, false))) {
            if (!this.dryRun) this.warnXattrs(path, writeSymlinkSync(e, into.at, at, into.staged));
            this.summary.symlinks++;
          }
          break;
        case 'fifo':
          if (fresh || (await this.clearWay(path, at, false))) {
            if (!this.dryRun) {
              await makeFifo(into.at, at);
              await this.applyMetadata(e, at, path);
            }
            this.summary.specials++;
          }
          break;
        case 'socket':
          // A socket node means nothing without the process that made it (bind creates
          // one afresh): recorded for the listing, not restored, as tar and restic do.
          break;
        default:
          this.warn(
            path,
            new CairnError(
              'unsupported',
              `a ${e.kind} is recorded in the snapshot but not restored`,
            ),
          );
      }
    } catch (err) {
      if (stopsRestore(err)) throw err;
      this.warn(path, err);
    }
  }

  /**
   * Before replacing `path` (reached as `at`) with a non-directory: true when the way is
   * clear. An existing directory there is removed only with `delete`; `overwrite: never`
   * keeps what exists.
   */
  private async clearWay(
    path: string,
    at: string,
    isFile: boolean,
    known?: { st: Stats | undefined },
  ): Promise<boolean> {
    const st = known ? known.st : lstatOrUndefined(at);
    if (!st) return true;
    if (this.overwrite === 'never') {
      if (isFile) this.summary.filesSkipped++;
      return false;
    }
    if (!st.isDirectory()) return true;
    if (!this.options.delete) {
      throw new UsageError(
        `cannot restore ${path}: a directory is in the way (use --delete to replace it)`,
      );
    }
    const inSnapshot = this.excluder ? this.snapshotPathOf(path) : '';
    if (!(await this.removeExtra(path, at, inSnapshot))) {
      throw new CairnError(
        'exists',
        'not restored: a directory is in the way that holds entries the exclude patterns match',
      );
    }
    return true;
  }

  /**
   * Restores directory `e` into `parent`. Inside a directory this restore created, it is
   * staged: made under a temporary name, filled with its entries at their final names,
   * given its metadata and renamed into place complete (one rename for the directory
   * instead of one per file; see restore-fs.ts). Elsewhere it is made (or found) at its
   * name, and its entries go through temporary names.
   */
  private async directory(e: DirEntry, parent: Place): Promise<void> {
    const path = childPath(parent, parent.path, e.name);
    if (!parent.fresh && this.overwrite === 'never') {
      // Something not a directory holds the name: `never` leaves it as it is, like an
      // existing file (with --delete too), and the files below are not restored.
      const st = lstatOrUndefined(childPath(parent, parent.at, e.name));
      if (st && !st.isDirectory() && !st.isSymbolicLink()) {
        this.summary.files += e.files;
        this.summary.bytes += e.bytes;
        this.summary.filesSkipped += e.files;
        this.progress();
        return;
      }
    }
    if (!parent.fresh || this.dryRun) {
      await this.existingDirectory(e, parent, path);
      this.summary.dirs++;
      return;
    }
    // `at` names the staged directory from its parent's `at`, which is kept short: once
    // the chain of temporary names grows past DIRECT_DIR_BYTES, the directory is held
    // open and its entries are reached as `/proc/self/fd/<fd>/<name>` (`inner`). No step
    // below then goes through the whole path from the target: in a chain N deep each
    // level costs the same, not a walk of N names (see core/deep-path.ts).
    const at = makeStagedDirSync(parent.at);
    this.staged.set(path, at);
    let held: DirRef | undefined;
    try {
      let failure: { err: unknown } | undefined;
      try {
        held = DirRef.open(at);
        const inner = held.reach();
        await this.directoryContents(e.tree, {
          path,
          at: inner,
          fresh: true,
          staged: true,
          joined: true,
        });
      } catch (err) {
        // The restore stops (aborted, the repository failed): the staged directory stays
        // for the next restore into the target to reuse and remove.
        if (stopsRestore(err)) throw err;
        // Only this directory failed (its listing could not be read: a warning): what
        // was restored of it goes into place, as it would have at its name.
        failure = { err };
      }
      // Metadata that cannot be set is a warning too; the directory still goes in place.
      await this.applyMetadata(e, at, path).catch((err: unknown) => {
        failure ??= { err };
      });
      try {
        publishStagedDirSync(parent.at, at, childPath(parent, parent.at, e.name));
      } catch (err) {
        // Something took the name meanwhile (only this restore should write here): the
        // staged copy is not left behind.
        await removeWholeTree(at).catch(() => {});
        throw err;
      }
      if (failure) throw failure.err;
    } finally {
      // Synchronously after the rename (see `whereNow`).
      this.staged.delete(path);
      held?.close();
    }
    this.summary.dirs++;
  }

  /**
   * Directory `e` at `path` in `parent`, made there unless it exists (`directory` for a
   * parent this restore did not create). As for a staged directory, it is reached from
   * its parent's `at`, and held open while its entries are restored once that path would
   * be over 2 KB: an existing tree N deep then costs N steps, not N walks of up to N
   * names from the target (each of them a few hops through /proc/self/fd past PATH_MAX).
   */
  private async existingDirectory(e: DirEntry, parent: Place, path: string): Promise<void> {
    const at = childPath(parent, parent.at, e.name);
    const created = await this.ensureDirectory(path, at);
    let held: DirRef | undefined;
    if (!this.dryRun) {
      try {
        held = DirRef.open(at);
      } catch {
        // each entry then reports the problem itself
      }
    }
    try {
      const inner = held?.reach() ?? at;
      await this.directoryContents(e.tree, {
        path,
        at: inner,
        fresh: created,
        staged: false,
        joined: true,
      });
    } finally {
      held?.close();
    }
    if (!this.dryRun) {
      await this.applyMetadata(e, at, path);
      this.madeWritable.delete(path);
    }
  }

  /**
   * Lets this process write into an existing target it owns but made read-only, as for
   * the directories below it (`writableForOwner`). The snapshot holds no metadata for
   * the target itself, so no metadata takes it off `madeWritable`: its own mode comes
   * back at the end, with `putBackWritableModes`, however the restore ends.
   */
  async openTarget(target: string): Promise<void> {
    const st = await withFsPath(target, (p) => stat(p));
    if (await withFsPath(target, (p) => writableForOwner(p, st))) {
      this.madeWritable.set(target, st.mode & 0o7777);
    }
  }

  /**
   * Existing directories given `u+wx` (`writableForOwner`) whose snapshot metadata has
   * not been applied yet (the target's never is): a restore that stops early (Ctrl-C, an
   * error) gives them their own modes back instead of leaving them writable, and one
   * that ends gives the target its own. Best effort, deepest first (a directory's own
   * mode may deny reaching those below it; the target was opened first).
   */
  async putBackWritableModes(): Promise<void> {
    const left = [...this.madeWritable].reverse();
    this.madeWritable.clear();
    for (const [path, mode] of left) {
      await withFsPath(path, (at) => chmod(at, mode)).catch(() => {});
    }
  }

  /**
   * Where the file restored at `path` is now: below a staged directory not yet renamed
   * into place, or at `path`. Valid until this thread next yields (only this thread
   * renames staged directories, synchronously).
   */
  private whereNow(path: string): string {
    if (this.staged.size === 0) return path;
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      const at = this.staged.get(dir);
      if (at !== undefined) return at + path.slice(dir.length);
      if (dirname(dir) === dir) return path;
    }
  }

  private async file(e: FileEntry, into: Place, path: string): Promise<void> {
    const { fresh } = into;
    const at = childPath(into, into.at, e.name);
    // In a new directory nothing is there (see restoreNewSync); else one lstat serves both checks.
    const existing = { st: fresh ? undefined : lstatOrUndefined(at) };
    if (existing.st && (await this.alreadyThere(e, path, at, existing.st))) {
      this.countFile(e, path, 'unchanged');
      return;
    }
    if (!(await this.clearWay(path, at, true, existing))) {
      this.countFile(e, path, 'skipped');
      return;
    }
    if (this.dryRun) {
      this.countDryRun(e);
      this.countFile(e, path, 'write');
      return;
    }
    if (e.hardlink !== undefined) {
      const first = this.hardlinks.get(e.hardlink);
      if (first) {
        const firstPath = await first;
        if (firstPath) {
          try {
            hardLinkSync(this.whereNow(firstPath), into.at, at, into.staged);
            this.countFile(e, path, 'write');
            return;
          } catch (err) {
            // The first file is gone (its staged directory could not be put in place):
            // this one is written from its chunks instead.
            if (errnoCode(err) !== 'ENOENT') throw err;
          }
        }
      }
    }
    const done =
      e.chunks.length === 0
        ? this.writeFile(e, into)
        : this.fileSlots.run(() => this.writeFile(e, into));
    if (e.hardlink !== undefined && !this.hardlinks.has(e.hardlink)) {
      this.hardlinks.set(
        e.hardlink,
        done.then(
          () => path,
          () => undefined,
        ),
      );
    }
    await done;
    this.countFile(e, path, 'write');
  }

  /**
   * True when `path` (reached as `at`) already holds this file's content (with
   * `overwrite: changed`); its metadata is brought up to date and the file is otherwise
   * left alone.
   */
  private async alreadyThere(e: FileEntry, path: string, at: string, st: Stats): Promise<boolean> {
    if (this.overwrite !== 'changed') return false;
    if (!st.isFile() || st.size !== e.size) return false;
    if (e.hardlink !== undefined && this.hardlinks.has(e.hardlink)) {
      // A later member of a hard-link group: in place only if it is the very file the
      // first member was found to be (one inode, so its content and metadata too).
      const first = this.hardlinkInodes.get(e.hardlink);
      return first !== undefined && first.dev === st.dev && first.ino === st.ino;
    }
    let same: boolean;
    if (e.inline) same = this.inlineInPlace(e.inline, path, at);
    else if (e.chunks.length === 0) same = true;
    else
      same =
        this.local?.fileMatches(
          path,
          e.chunks.map((c) => c.id),
          e.size,
        ) ?? false;
    if (!same) return false;
    const mtimeMatches = Math.abs(st.mtimeMs - toSeconds(e.mtime) * 1000) < 0.001;
    const metaMatches =
      (st.mode & 0o7777) === e.mode &&
      mtimeMatches &&
      (!isRoot || (st.uid === e.uid && st.gid === e.gid)) &&
      (!this.xattrsOn || missingXattrs(at, e.xattrs).length === 0);
    // Other names share this inode (a `cp -al` copy, or names the snapshot holds as
    // separate files): changing its metadata in place would change theirs too. It is
    // written again as a file of its own instead.
    if (!metaMatches && st.nlink > 1 && e.hardlink === undefined) return false;
    if (!metaMatches && !this.dryRun) await this.applyMetadata(e, at, path);
    if (e.hardlink !== undefined) {
      // The group's first file is in place: the others link to it, or already do.
      this.hardlinkInodes.set(e.hardlink, { dev: st.dev, ino: st.ino });
      this.hardlinks.set(e.hardlink, Promise.resolve(path));
    }
    return true;
  }

  /**
   * True when the file at `path` (reached at `at`) holds exactly `inline`. The index of
   * the target's chunks read it already: content up to the chunker's `min` is one chunk,
   * so its one id says, without reading the file a second time. Else it is read.
   */
  private inlineInPlace(inline: Uint8Array, path: string, at: string): boolean {
    if (this.local && inline.length <= this.repo.config.chunker.min) {
      return this.local.fileMatches(path, [this.repo.codec.idOf(inline)], inline.length);
    }
    return inlineMatches(inline, at);
  }

  private countFile(e: FileEntry, path: string, action: 'write' | 'unchanged' | 'skipped'): void {
    this.summary.files++;
    this.summary.bytes += e.size;
    if (action === 'unchanged') this.summary.filesUnchanged++;
    if (this.options.verbose) this.emit({ type: 'file', path, size: e.size, action });
    this.progress();
  }

  private async writeFile(e: FileEntry, into: Place): Promise<void> {
    if (e.chunks.length === 0) {
      const problem = writeSmallFileSync(e, into.at, undefined, into.staged);
      this.warnXattrs(childPath(into, into.path, e.name), problem);
      return;
    }
    if (this.poolTakesFile(e)) {
      await this.writeFileOnPool(e, into);
      return;
    }
    const at = childPath(into, into.at, e.name);
    // Said once the file is in place (a failure after this would be a warning of its own).
    let xattrProblem: string | undefined;
    await replaceWith(
      into.at,
      at,
      async (tmp) => {
        const fh = await open(tmp, 'wx', 0o600);
        try {
          let offset = 0;
          // Chunks are fetched several at once and written in order, consecutive ones
          // together (one positional writev per WRITE_BATCH_BYTES instead of one call per
          // chunk). Memory stays bounded: the fetches in flight plus one batch per file.
          let batch: Uint8Array[] = [];
          let batchAt = 0;
          let batchBytes = 0;
          const flush = async (): Promise<void> => {
            if (batchBytes === 0) return;
            await writevAll(fh, batch, batchAt);
            batch = [];
            batchBytes = 0;
          };
          const fetched = mapConcurrent(e.chunks, CHUNK_FETCHES_PER_FILE, (c) =>
            this.chunk(c.id, c.size),
          );
          try {
            for await (const data of fetched) {
              // All-zero chunks (a number: their length) are left as holes: sparse stays sparse.
              const length = typeof data === 'number' ? data : data.length;
              if (typeof data === 'number') await flush();
              else {
                if (batchBytes === 0) batchAt = offset;
                batch.push(data);
                batchBytes += length;
                if (batchBytes >= WRITE_BATCH_BYTES) await flush();
              }
              offset += length;
              // Large files report progress as they are written, not only when complete.
              this.partialBytes += length;
              this.progress();
            }
            await flush();
          } finally {
            this.partialBytes -= offset;
          }
          // Extends the file over trailing holes to its size.
          await fh.truncate(e.size);
          // chown before chmod: a chown clears set-user-ID and set-group-ID bits.
          if (isRoot) await fh.chown(e.uid, e.gid);
          // After chown, which clears capabilities; before chmod (restore-xattrs.ts).
          xattrProblem = setNewXattrs(fh.fd, e.xattrs);
          await fh.chmod(e.mode);
          await fh.utimes(utimeArg(e.mtime), utimeArg(e.mtime));
        } finally {
          await fh.close();
        }
      },
      into.staged,
    );
    this.warnXattrs(childPath(into, into.path, e.name), xattrProblem);
  }

  /**
   * True when chunked file `e` goes to the worker pool: there is one, it is started or
   * the file is large enough to start it, and no chunk of it can come from a local file.
   */
  private poolTakesFile(e: FileEntry): boolean {
    if (!this.pool) return false;
    if (!this.pool.started && e.size < POOL_FILE_BYTES && !this.poolTakesSmall()) return false;
    const local = this.local;
    return !local || !e.chunks.some((c) => local.has(c.id));
  }

  /** Restores chunked file `e` into `into` on a worker (read, verified, written there). */
  private async writeFileOnPool(e: FileEntry, into: Place): Promise<void> {
    let written = 0;
    try {
      const done = await this.pool!.file(
        {
          dir: into.at,
          ...(into.staged ? { staged: true } : {}),
          name: e.name,
          size: e.size,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          mtime: { sec: e.mtime.sec, nsec: e.mtime.nsec },
          ids: e.chunks.map((c) => c.id),
          sizes: e.chunks.map((c) => c.size),
          ...(e.xattrs ? { xattrs: e.xattrs } : {}),
        },
        (bytes) => {
          // Large files report progress as they are written, not only when complete.
          this.partialBytes += bytes - written;
          written = bytes;
          this.progress();
        },
      );
      this.summary.bytesFetched += done.fetched;
      this.summary.bytesReused += done.reused;
      this.warnXattrs(childPath(into, into.path, e.name), done.xattrProblem);
    } finally {
      this.partialBytes -= written;
    }
  }

  /**
   * One chunk's verified bytes: from a local file when possible, else the repository.
   * A chunk that is all zeros is returned as its length instead (a hole to leave); once
   * seen, it is not fetched again.
   */
  private async chunk(id: ObjectId, size: number): Promise<Uint8Array | number> {
    if (this.zeroChunks.has(id)) {
      this.summary.bytesReused += size;
      return size;
    }
    // The same chunk already on its way (a file's chunks are fetched several at once,
    // and the holes of a sparse file are one chunk many times): wait for it.
    const coming = this.chunksComing.get(id);
    if (coming) {
      const got = await coming;
      this.summary.bytesReused += size;
      return got;
    }
    const getting = this.getChunk(id, size);
    this.chunksComing.set(id, getting);
    try {
      return await getting;
    } finally {
      this.chunksComing.delete(id);
    }
  }

  /** `chunk` for a chunk not on its way already. */
  private async getChunk(id: ObjectId, size: number): Promise<Uint8Array | number> {
    const local = await this.local?.read(id);
    if (local && local.length === size) {
      this.summary.bytesReused += size;
      return this.noteZero(id, local);
    }
    const data = await this.repo.blobs.get('data', id, { signal: this.options.signal });
    if (data.length !== size) {
      throw new IntegrityError(
        id,
        `data blob ${id} holds ${data.length} bytes, the tree says ${size}`,
      );
    }
    this.summary.bytesFetched += size;
    return this.noteZero(id, data);
  }

  /**
   * What restoring `e` would fetch and reuse, as the real run counts it: chunks in local
   * files are reused, and an all-zero chunk is fetched once and then left as holes. A
   * dry run fetches nothing, so it spots all-zero chunks by id, among the chunks that
   * repeat within a file (as the holes of a sparse file do).
   */
  private countDryRun(e: FileEntry): void {
    const seen = new Set<ObjectId>();
    for (const c of e.chunks) {
      const hole = this.zeroChunks.has(c.id) || (seen.has(c.id) && this.isZeroChunk(c.id, c.size));
      if (hole || this.local?.has(c.id)) this.summary.bytesReused += c.size;
      else this.summary.bytesFetched += c.size;
      seen.add(c.id);
    }
  }

  /** True when `id` is the id of `size` zero bytes (remembered: see `chunk`). */
  private isZeroChunk(id: ObjectId, size: number): boolean {
    let zeroId = this.zeroIds.get(size);
    if (zeroId === undefined) {
      zeroId = this.repo.codec.idOf(new Uint8Array(size));
      this.zeroIds.set(size, zeroId);
    }
    if (zeroId !== id) return false;
    this.zeroChunks.add(id);
    return true;
  }

  /** `data` (verified chunk `id`), or its length when it is all zeros. */
  private noteZero(id: ObjectId, data: Uint8Array): Uint8Array | number {
    if (!isAllZero(data)) return data;
    this.zeroChunks.add(id);
    return data.length;
  }

  /**
   * Sets the metadata of existing `at` (a directory, a special file, or a file found in
   * place) to `e`'s. Extended attributes that cannot be set are a warning naming `path`
   * (where `at` is known to the user), not an error: the rest is set all the same.
   */
  private async applyMetadata(e: Entry, at: string, path = at): Promise<void> {
    await withFsPath(at, async (where) => {
      // Only when the owner differs: a chown clears a file capability, and one the
      // target set itself on a file otherwise in place is the target's own.
      if (isRoot) {
        const st = await lstat(where);
        if (st.uid !== e.uid || st.gid !== e.gid) await lchown(where, e.uid, e.gid);
      }
      // After chown, which clears capabilities; before chmod (restore-xattrs.ts). Without
      // root, a file or directory of one's own takes attributes only while writable:
      // made so for the moment (whatever its mode now), until the chmod below.
      if (this.xattrsOn && e.xattrs) {
        const missing = missingXattrs(where, e.xattrs);
        if (!isRoot && typeof missing !== 'string' && missing.length > 0) {
          await chmod(where, e.mode | 0o200).catch(() => {});
        }
        this.warnXattrs(path, addXattrs(where, e.xattrs, missing));
      }
      await chmod(where, e.mode);
      const t = utimeArg(e.mtime);
      await utimes(where, t, t);
    });
  }

  /** A warning for a restored `path` whose extended attributes were not all set. */
  private warnXattrs(path: string, problem: string | undefined): void {
    if (problem) this.warn(path, new Error(problem));
  }

  /**
   * `e` as this restore writes it: without extended attributes when they are off
   * (`xattrs: false`) or cannot be set here (a notice says so, once).
   */
  withXattrs(e: Entry): Entry {
    if (e.xattrs === undefined) return e;
    if (this.xattrsOn) {
      const reason = xattrUnsupportedReason();
      if (reason === undefined) return e;
      if (!this.xattrsNoted) {
        this.xattrsNoted = true;
        this.emit({
          type: 'notice',
          code: 'xattrs-unavailable',
          message: `extended attributes are not restored: ${reason}`,
        });
      }
    }
    const { xattrs: _left, ...rest } = e;
    return rest as Entry;
  }
}

/**
 * A directory being restored into. `path`: its path in the target, which events and
 * warnings name. `at`: where it is now, a temporary name while it is staged (then its
 * entries are written at their final names; see RestoreRun.directory), and then a path
 * kept short: from its parent's `at`, or `/proc/self/fd/<fd>` of a descriptor held while
 * its entries are restored, once that would be over 2 KB. `fresh`: this
 * restore created it (or found the target empty), so nothing is in the way of any name
 * and nothing needs deleting; see `restoreNewSync`.
 */
interface Place {
  path: string;
  at: string;
  fresh: boolean;
  staged: boolean;
  /** `path` and `at` are as `join` gives them (normalized): see `childPath`. */
  joined: boolean;
}

/** Directory `path`, at its own name (not staged). */
function place(path: string, fresh = false, joined = false): Place {
  return { path, at: path, fresh, staged: false, joined };
}

/**
 * `join(dir, name)`, for `dir` the `path` or `at` of `into` and `name` one of its entries
 * (names are validated: no `/`, `.`, `..`). When `dir` is already normalized, `name` is
 * appended: `join` would rebuild the whole path segment by segment, and in a chain of
 * directories N deep, where every level keeps its path while the levels below it are
 * restored, the strings of N segments each would add up in the square of N.
 */
function childPath(into: Place, dir: string, name: string): string {
  return into.joined ? `${dir}/${name}` : join(dir, name);
}

/** True for errors that stop the whole restore; others are warnings about one path. */
function stopsRestore(err: unknown): boolean {
  return err instanceof CairnError && (err.code === 'aborted' || err.code === 'backend');
}

/** A file whose content is in its tree entry (inline or empty) and not a hard link. */
function isSmallFile(e: Entry): e is FileEntry {
  return e.kind === 'file' && e.chunks.length === 0 && e.hardlink === undefined;
}

/** `lstat` of `path`, or undefined when nothing is there (or it cannot be read). */
function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return withFsPathSync(path, (at) => lstatSync(at));
  } catch {
    return undefined;
  }
}

/**
 * Lets this process write into the existing directory `at` (`st`: its lstat) when it is
 * not root and owns it: a read-only directory (a restored `555` one, say) gets `u+wx`
 * until the snapshot's metadata is applied to it after its entries, as rsync does. Else
 * a restore could not be run again over its own output. Not ours (or refused): left as
 * it is, and each entry reports what it cannot do. True when its mode was changed.
 */
async function writableForOwner(at: string | Buffer, st: Stats): Promise<boolean> {
  if (isRoot || (st.mode & 0o300) === 0o300 || st.uid !== process.getuid?.()) return false;
  return chmod(at, (st.mode & 0o7777) | 0o300).then(
    () => true,
    () => false,
  );
}

/**
 * True when the file at `at` holds exactly `inline`. One that cannot be read (a mode
 * `000` file its owner restored) does not match, and is written again.
 */
function inlineMatches(inline: Uint8Array, at: string): boolean {
  try {
    return Buffer.from(inline).equals(withFsPathSync(at, (where) => readFileSync(where)));
  } catch {
    return false;
  }
}

/** The names in `dir` (byte-exact; none if it cannot be read). */
function listNames(dir: string): Promise<string[]> {
  return withFsPath(dir, (at) => readdirNames(at)).catch(() => [] as string[]);
}
