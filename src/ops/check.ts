/**
 * `check`: verifies a repository's structure and, with `readData`, its content.
 *
 * 1. The config was already validated when the repository was opened.
 * 2. Every snapshot record is read, hash-verified and decoded.
 * 3. Every tree node reachable from a snapshot is read, verified and decoded (each
 *    shared subtree once).
 * 4. Every data blob a file references must exist (one listing of `data/`), and with
 *    `readData` is read back and hash-verified.
 * When something is wrong, the trees are walked again to name every snapshot and file
 * that depends on the damaged object.
 */
import { CairnError, UsageError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { forEachConcurrent } from '../core/limit.js';
import type { Snapshot } from '../manifest/types.js';
import { BlobStore } from '../repo/blob-store.js';
import { blobPrefix, idOfKey } from '../repo/layout.js';
import type { Repository } from '../repo/repository.js';
import { TreeReader } from '../repo/tree-store.js';
import { type CheckEvent, Throttle } from './events.js';

/** Options for `check`. */
export interface CheckOptions {
  /** Read and verify every referenced data blob. */
  readData?: boolean;
  /**
   * Read and verify only a subset of the referenced data blobs: `N/M` (the blobs whose
   * id falls in bucket N of M, deterministic) or `P%` (a random sample). See parseSubset.
   */
  readDataSubset?: string;
  /** Blobs read at once with readData (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
  onEvent?: (event: CheckEvent) => void;
}

/** One problem found. */
export interface CheckProblem {
  /** `not-found`, `integrity`, `format`... */
  code: string;
  /** The damaged object: `snapshot <id>`, `tree <id>`, `data <id>`. */
  object: string;
  message: string;
  /** Snapshots that depend on it (ids). */
  snapshots: string[];
  /** Paths (in those snapshots) that depend on it, up to 100. */
  paths: string[];
}

/** What `check` found. */
export interface CheckReport {
  snapshots: number;
  trees: number;
  dataBlobs: number;
  /** Bytes read back with readData. */
  bytesRead: number;
  /** Data blobs read back (all referenced ones with readData, fewer with a subset). */
  dataBlobsRead: number;
  /** Data blobs stored but referenced by no snapshot (reclaimable by prune). */
  unreferencedBlobs: number;
  problems: CheckProblem[];
}

const MAX_PATHS = 100;

/** Checks `repo`. Resolves with a report; problems do not reject. */
export async function check(repo: Repository, options: CheckOptions = {}): Promise<CheckReport> {
  const { signal } = options;
  const emit = options.onEvent ?? (() => {});
  const started = Date.now();
  const throttle = new Throttle(250);
  const report: CheckReport = {
    snapshots: 0,
    trees: 0,
    dataBlobs: 0,
    bytesRead: 0,
    dataBlobsRead: 0,
    unreferencedBlobs: 0,
    problems: [],
  };
  const subset =
    options.readDataSubset !== undefined ? parseSubset(options.readDataSubset) : undefined;
  const readData = (options.readData ?? false) || subset !== undefined;
  const bad = new Map<string, { code: string; message: string }>();
  const progress = (force = false) => {
    if (force || throttle.due()) {
      emit({
        type: 'progress',
        operation: 'check',
        trees: report.trees,
        blobs: report.dataBlobs,
        bytes: report.bytesRead,
        elapsedMs: Date.now() - started,
      });
    }
  };

  // Fresh readers: check must read every object from the backend, not from caches.
  const blobs = new BlobStore(repo.backend, { codec: repo.codec });
  const trees = new TreeReader(blobs, 64);
  const ids = await repo.snapshots.ids(signal);
  emit({
    type: 'start',
    operation: 'check',
    snapshots: ids.length,
    readData,
  });
  const snapshots: Array<{ id: ObjectId; snapshot: Snapshot }> = [];
  for (const id of ids) {
    try {
      snapshots.push({ id, snapshot: await repo.snapshots.load(id, signal) });
    } catch (err) {
      if (!(err instanceof CairnError) || err.code === 'aborted' || err.code === 'backend')
        throw err;
      bad.set(`snapshot ${id}`, { code: err.code, message: err.message });
    }
  }
  report.snapshots = snapshots.length;

  // Walk every tree once, collecting referenced data blobs.
  const seenTrees = new Set<ObjectId>();
  const referenced = new Set<ObjectId>();
  const visit = async (tree: ObjectId): Promise<void> => {
    if (seenTrees.has(tree)) return;
    seenTrees.add(tree);
    let nodeIds: ObjectId[];
    try {
      nodeIds = await trees.nodeIds(tree, signal);
      report.trees += nodeIds.length;
      for await (const e of trees.entries(tree, signal)) {
        if (e.kind === 'file') for (const c of e.chunks) referenced.add(c.id);
        else if (e.kind === 'dir') await visit(e.tree);
      }
    } catch (err) {
      if (!(err instanceof CairnError) || err.code === 'aborted' || err.code === 'backend')
        throw err;
      const objectId = (err as { objectId?: string }).objectId;
      const what =
        err.code === 'integrity' && objectId ? `tree ${objectId}` : treeObjectName(err, tree);
      bad.set(what, { code: err.code, message: err.message });
    }
    progress();
  };
  for (const { snapshot } of snapshots) await visit(snapshot.tree);

  // Which referenced data blobs exist: one listing instead of a request per blob.
  const stored = new Set<ObjectId>();
  for await (const info of repo.backend.list(blobPrefix('data'), { signal })) {
    const id = idOfKey(info.key);
    if (id) stored.add(id);
  }
  for (const id of referenced) {
    if (!stored.has(id))
      bad.set(`data ${id}`, { code: 'not-found', message: `data blob ${id} is missing` });
  }
  for (const id of stored) if (!referenced.has(id)) report.unreferencedBlobs++;
  report.dataBlobs = referenced.size;

  if (readData) {
    const present = [...referenced].filter((id) => stored.has(id));
    await forEachConcurrent(
      options.readData || !subset ? present : selectSubset(present, subset),
      options.concurrency ?? 8,
      async (id) => {
        try {
          const data = await blobs.get('data', id, { signal });
          report.bytesRead += data.length;
          report.dataBlobsRead++;
        } catch (err) {
          if (!(err instanceof CairnError) || err.code === 'aborted' || err.code === 'backend')
            throw err;
          bad.set(`data ${id}`, { code: err.code, message: err.message });
        }
        progress();
      },
    );
  }
  progress(true);

  if (bad.size > 0) await attribute(trees, snapshots, bad, report, signal);
  for (const p of report.problems) emit({ type: 'error', ...p });
  return report;
}

/** A `--read-data-subset` selection. */
export type DataSubset =
  | { kind: 'bucket'; n: number; m: number }
  | { kind: 'percent'; percent: number };

/** Parses `N/M` (1 <= N <= M) or `P%` (0 < P <= 100). */
export function parseSubset(text: string): DataSubset {
  const bucket = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (bucket) {
    const n = Number(bucket[1]);
    const m = Number(bucket[2]);
    if (n >= 1 && n <= m) return { kind: 'bucket', n, m };
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  if (pct) {
    const percent = Number(pct[1]);
    if (percent > 0 && percent <= 100) return { kind: 'percent', percent };
  }
  throw new UsageError(
    `bad data subset ${JSON.stringify(text)}: use N/M (e.g. 2/5, with 1 <= N <= M) or P% (e.g. 10%)`,
  );
}

/**
 * Whether blob `id` falls in bucket `n` of `m`: its first 32 bits modulo m equal n - 1.
 * Every blob is in exactly one bucket, so `1/m` ... `m/m` together read everything.
 */
export function inBucket(id: ObjectId, n: number, m: number): boolean {
  return Number.parseInt(id.slice(0, 8), 16) % m === n - 1;
}

/** The blobs a subset selects: a bucket, or ceil(P% of them) picked at random. */
export function selectSubset(ids: readonly ObjectId[], subset: DataSubset): ObjectId[] {
  if (subset.kind === 'bucket') return ids.filter((id) => inBucket(id, subset.n, subset.m));
  const count = Math.ceil((ids.length * subset.percent) / 100);
  const pool = [...ids];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

function treeObjectName(err: CairnError, fallback: ObjectId): string {
  const m = /tree ([0-9a-f]{64})/.exec(err.message);
  return `tree ${m ? m[1] : fallback}`;
}

/** Walks every snapshot again to find who depends on each damaged object. */
async function attribute(
  trees: TreeReader,
  snapshots: Array<{ id: ObjectId; snapshot: Snapshot }>,
  bad: Map<string, { code: string; message: string }>,
  report: CheckReport,
  signal?: AbortSignal,
): Promise<void> {
  const problems = new Map<string, CheckProblem>();
  for (const [object, { code, message }] of bad) {
    problems.set(object, { code, object, message, snapshots: [], paths: [] });
  }
  const note = (object: string, snapshotId: string, path: string) => {
    const p = problems.get(object);
    if (!p) return;
    if (!p.snapshots.includes(snapshotId)) p.snapshots.push(snapshotId);
    if (p.paths.length < MAX_PATHS && !p.paths.includes(path)) p.paths.push(path);
  };
  for (const { id: snapshotId, snapshot } of snapshots) {
    const walk = async (tree: ObjectId, prefix: string): Promise<void> => {
      const nodeIds = await trees.nodeIds(tree, signal).catch(() => [tree]);
      for (const n of nodeIds) note(`tree ${n}`, snapshotId, prefix === '' ? '/' : prefix);
      try {
        for await (const e of trees.entries(tree, signal)) {
          const path = prefix === '' ? e.name : `${prefix}/${e.name}`;
          if (e.kind === 'file') for (const c of e.chunks) note(`data ${c.id}`, snapshotId, path);
          else if (e.kind === 'dir') await walk(e.tree, path);
        }
      } catch (err) {
        // Damaged trees were recorded in the first pass; keep attributing the rest.
        if (!(err instanceof CairnError) || err.code === 'aborted' || err.code === 'backend')
          throw err;
      }
    };
    await walk(snapshot.tree, '');
  }
  report.problems = [...problems.values()];
}
