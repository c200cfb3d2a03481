/**
 * `check`: verifies a repository's structure and, with `readData`, its content.
 *
 * 1. The config was already validated when the repository was opened.
 * 2. Every snapshot record is read, hash-verified and decoded.
 * 3. Every tree node reachable from a snapshot is read, verified and decoded (each
 *    shared subtree once).
 * 4. Every data blob a file references must exist (one listing of `data/`), and with
 *    `readData` is read back and hash-verified.
 * The blobs referenced and the blobs stored are ExternalSortSets (in memory for small
 * repositories, sorted run files for large ones) compared by a merge-join in id order,
 * and the trees seen a DiskSet; memory does not grow with the repository.
 * When something is wrong, the trees are walked again to name every snapshot and file
 * that depends on the damaged object.
 */
import { join } from 'node:path';
import { shareSignal } from '../core/abort.js';
import { CairnError, UsageError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { forEachConcurrent } from '../core/limit.js';
import type { Snapshot } from '../manifest/types.js';
import { HEADER_BYTES } from '../repo/blob-format.js';
import { BlobStore } from '../repo/blob-store.js';
import { NONCE_BYTES, TAG_BYTES } from '../repo/crypto.js';
import { closeAll, DiskSet, SortedCursor } from '../repo/disk-set.js';
import { ExternalSortSet } from '../repo/external-sort-set.js';
import { isDamagedSlot, listKeySlots } from '../repo/key-slots.js';
import { blobIdOfKey, blobPrefix } from '../repo/layout.js';
import type { Repository } from '../repo/repository.js';
import { TreeReader } from '../repo/tree-store.js';
import { type CheckEvent, type CheckPhase, Throttle } from './events.js';

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
  shareSignal(signal);
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
  let phase: CheckPhase = 'trees';
  /** What readData reads, once known: blobs, and bytes unless a random sample. */
  let toRead: { blobs: number; bytes?: number } | undefined;
  const progress = (force = false) => {
    if (force || throttle.due()) {
      emit({
        type: 'progress',
        operation: 'check',
        phase,
        trees: report.trees,
        blobs: report.dataBlobs,
        bytes: report.bytesRead,
        blobsRead: report.dataBlobsRead,
        ...(toRead ? { totalBlobs: toRead.blobs } : {}),
        ...(toRead?.bytes !== undefined ? { totalBytes: toRead.bytes } : {}),
        elapsedMs: Date.now() - started,
      });
    }
  };

  // Fresh readers: check must read every object from the backend, not from caches.
  const blobs = new BlobStore(repo.backend, { codec: repo.codec });
  const trees = TreeReader.forSingleWalk(blobs);
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

  // Walk every tree once, collecting referenced data blobs. The sets move to disk when
  // large, so memory does not grow with the repository (src/repo/external-sort-set.ts,
  // src/repo/disk-set.ts: the seen trees need lookups while they are being added).
  const setOptions = { dir: join(repo.cacheDir, 'tmp') };
  const seenTrees = new DiskSet(setOptions);
  const referenced = new ExternalSortSet(setOptions);
  const stored = new ExternalSortSet(setOptions);
  try {
    const countNode = () => {
      report.trees++;
    };
    const visit = async (tree: ObjectId): Promise<void> => {
      if (!(await seenTrees.addNew(tree))) return;
      try {
        for await (const e of trees.entries(tree, signal, countNode)) {
          // With its size: the bytes to read back are known before reading.
          if (e.kind === 'file') for (const c of e.chunks) await referenced.add(c.id, c.size);
          else if (e.kind === 'dir') await visit(e.tree);
        }
      } catch (err) {
        if (!(err instanceof CairnError) || err.code === 'aborted' || err.code === 'backend')
          throw err;
        // An integrity error names its object as the codec saw it ("tree blob <id>" when
        // authentication fails): only the id matters for attributing it.
        const objectId = (err as { objectId?: string }).objectId;
        const damagedId = objectId ? /[0-9a-f]{64}/.exec(objectId)?.[0] : undefined;
        const what =
          err.code === 'integrity' && damagedId ? `tree ${damagedId}` : treeObjectName(err, tree);
        bad.set(what, { code: err.code, message: err.message });
      }
      progress();
    };
    for (const { snapshot } of snapshots) await visit(snapshot.tree);
    await seenTrees.close();

    // Which referenced data blobs exist: one listing instead of a request per blob, then
    // a merge-join of the two sorted sets.
    phase = 'list';
    progress(true);
    // An object too short to be any blob (truncated) is damage a listing can show.
    const shortest =
      HEADER_BYTES + 1 + (repo.config.encryption === 'none' ? 0 : NONCE_BYTES + TAG_BYTES);
    const tooShort = new Map<ObjectId, number>();
    for await (const info of repo.backend.list(blobPrefix('data'), { signal })) {
      // A copy under the wrong shard is not the blob (readers look under its own).
      const id = blobIdOfKey('data', info.key);
      if (!id) continue;
      await stored.add(id);
      if (info.size < shortest) tooShort.set(id, info.size);
    }
    let present = 0;
    // The blobs and bytes readData will read (a bucket's counted here, on the way).
    const reading = { blobs: 0, bytes: 0 };
    const storedCursor = new SortedCursor(stored.entries());
    try {
      for await (const [id, size] of referenced.entries()) {
        report.dataBlobs++;
        if (await storedCursor.has(id)) {
          present++;
          const length = tooShort.get(id);
          if (length !== undefined) {
            bad.set(`data ${id}`, {
              code: 'format',
              message: `data blob ${id} is ${length} bytes, shorter than any blob can be (${shortest}): truncated`,
            });
          }
          if (subset?.kind !== 'bucket' || inBucket(id, subset.n, subset.m)) {
            reading.blobs++;
            reading.bytes += size;
          }
        } else bad.set(`data ${id}`, { code: 'not-found', message: `data blob ${id} is missing` });
        progress();
      }
    } finally {
      await storedCursor.close();
    }
    report.unreferencedBlobs = (await stored.count()) - present;

    if (readData) {
      const sample = options.readData ? undefined : subset;
      // A random sample's size in blobs is known, not which blobs (nor their bytes).
      toRead =
        sample?.kind === 'percent'
          ? { blobs: Math.ceil((present * sample.percent) / 100) }
          : reading;
      phase = 'read';
      progress(true);
      await forEachConcurrent(
        presentBlobs(referenced, stored, present, sample),
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
  } finally {
    await closeAll(seenTrees, referenced, stored);
  }
  progress(true);

  if (bad.size > 0) await attribute(trees, snapshots, bad, report, signal);
  // Damaged key slots lock nobody out (opening passes over them) but open nothing: a
  // password meant to be kept in one is lost. Only a listable repository can tell.
  if (repo.keys && repo.backend.capabilities.listable) {
    for (const slot of await listKeySlots(repo.backend)) {
      if (!isDamagedSlot(slot)) continue;
      report.problems.push({
        code: 'format',
        object: `key ${slot.id}`,
        message: `${slot.damaged}; it opens nothing ('cairn key remove ${slot.id.slice(0, 8)}' takes it away)`,
        snapshots: [],
        paths: [],
      });
    }
  }
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

/**
 * The referenced blobs that are stored (`count` of them), in id order, or the `subset`
 * of them: a bucket, or exactly ceil(P% of count) chosen uniformly at random in one pass
 * (selection sampling), so no list of ids is held.
 */
async function* presentBlobs(
  referenced: ExternalSortSet,
  stored: ExternalSortSet,
  count: number,
  subset: DataSubset | undefined,
): AsyncGenerator<ObjectId> {
  let wanted = subset?.kind === 'percent' ? Math.ceil((count * subset.percent) / 100) : count;
  let left = count;
  const storedCursor = new SortedCursor(stored.entries());
  try {
    for await (const id of referenced.keys()) {
      if (!(await storedCursor.has(id))) continue;
      if (subset?.kind === 'bucket') {
        if (inBucket(id, subset.n, subset.m)) yield id;
      } else if (subset?.kind === 'percent') {
        if (wanted > 0 && Math.random() * left < wanted) {
          wanted--;
          yield id;
        }
        left--;
      } else {
        yield id;
      }
    }
  } finally {
    await storedCursor.close();
  }
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
