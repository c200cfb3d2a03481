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
import { CairnError } from '../core/errors.js';
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
    unreferencedBlobs: 0,
    problems: [],
  };
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
  const blobs = new BlobStore(repo.backend);
  const trees = new TreeReader(blobs, 64);
  const ids = await repo.snapshots.ids(signal);
  emit({
    type: 'start',
    operation: 'check',
    snapshots: ids.length,
    readData: options.readData ?? false,
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

  if (options.readData) {
    await forEachConcurrent(
      [...referenced].filter((id) => stored.has(id)),
      options.concurrency ?? 8,
      async (id) => {
        try {
          const data = await blobs.get('data', id, { signal });
          report.bytesRead += data.length;
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
