/**
 * `sync`: copies snapshots from one repository to another, sending only what the
 * destination lacks.
 *
 * Snapshot ids are content hashes of their records, so "missing in the destination"
 * is a comparison of two listings of `snapshots/`. For each missing snapshot, oldest
 * first, the tree copier (sync-copier.ts) walks its tree top-down, skipping every
 * subtree the destination already has, copies missing data blobs with `transfers` in
 * parallel, writes tree nodes bottom-up (children before parents), and only then the
 * snapshot record. So an interrupted sync leaves no visible half snapshot (at most
 * unreferenced blobs, like an interrupted backup), and a rerun finds what the first
 * run stored and sends nothing twice.
 *
 * Both repositories must cut data identically (same chunker parameters and seed),
 * otherwise the copy would not deduplicate with the destination's own backups; create
 * the destination with `init --copy-params-from SRC`.
 */
import type { BackendCounts } from '../backends/counting.js';
import { CountingBackend } from '../backends/counting.js';
import { shareSignal, throwIfAborted } from '../core/abort.js';
import {
  type CairnError,
  hasCode,
  IntegrityError,
  MismatchError,
  NotFoundError,
  UsageError,
} from '../core/errors.js';
import { visiblePath } from '../core/format.js';
import { isObjectId, type ObjectId } from '../core/ids.js';
import { mapConcurrent } from '../core/limit.js';
import { decodeSnapshot, encodeSnapshot } from '../manifest/snapshot-codec.js';
import type { Snapshot } from '../manifest/types.js';
import { BlobStore } from '../repo/blob-store.js';
import { type RepoConfig, sameChunking } from '../repo/config.js';
import { snapshotKey } from '../repo/layout.js';
import type { Lock, LockInfo } from '../repo/locks.js';
import type { Repository } from '../repo/repository.js';
import { orderSnapshots, type SnapshotFilter, SnapshotStore } from '../repo/snapshots.js';
import { type SyncEvent, Throttle } from './events.js';
import { withSharedLock } from './lock-guard.js';
import { TreeCopier } from './sync-copier.js';

/** Options for `sync`. */
export interface SyncOptions {
  /** Snapshot selectors in the source (id, id prefix, latest, tag:NAME); default: all. */
  snapshots?: string[];
  /**
   * Without `snapshots`: copy only the snapshots it matches; with them, what `latest` and
   * `tag:NAME` choose from (an id is copied whatever it says).
   */
  filter?: SnapshotFilter;
  /** Find and count what would be sent; write nothing. */
  dryRun?: boolean;
  /** Blob copies in flight (default 8). */
  transfers?: number;
  /** Existence checks against the destination in flight (default 16). */
  checkers?: number;
  signal?: AbortSignal;
  onEvent?: (event: SyncEvent) => void;
  /**
   * Hold a shared lock on the destination for the duration (default true), so a prune
   * of it never deletes a blob this sync relies on; false only when the caller holds one.
   */
  lock?: boolean;
  /** Called when the lock has to wait for a prune that is deleting. */
  onLockWait?: (sweep: LockInfo) => void;
}

/** Requests made to each side, by verb (failed attempts and listings included). */
export interface SyncRequests {
  source: BackendCounts;
  destination: BackendCounts;
  /** All calls to both sides (a listing counts as one, whatever its pages). */
  total: number;
}

/** What `sync` did (or, with dryRun, would do). */
export interface SyncReport {
  dryRun: boolean;
  /** Snapshots copied, oldest first. */
  copied: ObjectId[];
  /** Selected snapshots the destination already had. */
  skipped: ObjectId[];
  /**
   * Selected snapshots not copied because the source cannot give them whole (a record
   * or blob damaged or missing there), each with why; the others are copied all the same.
   */
  failed: Array<{ id: ObjectId; code: string; message: string }>;
  /** Data and tree blobs written to the destination. */
  blobsSent: number;
  dataBlobsSent: number;
  treeBlobsSent: number;
  /** Bytes written to the destination: blobs and snapshot records, as stored. */
  bytesSent: number;
  /**
   * Blobs the copied snapshots reference that the destination already had (a present
   * directory node counts once: what is below it is not examined).
   */
  blobsSkipped: number;
  /** File content bytes not sent because the destination had them (chunks, directories). */
  bytesSkipped: number;
  requests: SyncRequests;
  durationMs: number;
}

/** Copies the selected snapshots of `src` that `dst` lacks into `dst`. */
export async function sync(
  src: Repository,
  dst: Repository,
  options: SyncOptions = {},
): Promise<SyncReport> {
  shareSignal(options.signal);
  const locked = options.lock !== false && !options.dryRun && dst.backend.capabilities.writable;
  if (!locked) return syncUnlocked(src, dst, options);
  return withSharedLock(dst, 'sync', (lock) => syncUnlocked(src, dst, options, lock), {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onLockWait ? { onWait: (sweep) => options.onLockWait?.(sweep) } : {}),
  });
}

async function syncUnlocked(
  src: Repository,
  dst: Repository,
  options: SyncOptions,
  lock?: Lock,
): Promise<SyncReport> {
  const started = Date.now();
  const { signal } = options;
  const dryRun = options.dryRun ?? false;
  const emit = options.onEvent ?? (() => {});
  const transfers = positive(options.transfers ?? 8, 'transfers');
  const checkers = positive(options.checkers ?? 16, 'checkers');
  checkCompatible(src, dst);
  if (!dryRun && !dst.backend.capabilities.writable) {
    throw new UsageError(`cannot sync into ${dst.location}: it is read-only`);
  }

  const srcBackend = new CountingBackend(src.backend);
  const dstBackend = new CountingBackend(dst.backend);
  const srcSnapshots = new SnapshotStore(srcBackend, src.codec);
  const dstSnapshots = new SnapshotStore(dstBackend, dst.codec);

  const selected = await selectSnapshots(srcSnapshots, options, signal, (id, err) =>
    emit({
      type: 'notice',
      code: 'snapshot-unreadable',
      path: `snapshots/${id}`,
      message: `snapshots/${id} cannot be read (${err.message}): passed over in choosing the snapshots to copy`,
    }),
  );
  const present = new Set(await dstSnapshots.ids(signal));
  const skipped = selected.filter((id) => present.has(id));
  const missing = selected.filter((id) => !present.has(id));
  const records: Array<{ id: ObjectId; plaintext: Uint8Array; snapshot: Snapshot }> = [];
  const failed: SyncReport['failed'] = [];
  // One damaged snapshot in the source must not keep the others from their copy (a
  // second copy is what a damaged repository needs most): it is named and passed over.
  const fail = (id: ObjectId, err: unknown, what: string) => {
    const code = (err as CairnError).code;
    const message = `snapshot ${id} ${what}: ${(err as Error).message}`;
    failed.push({ id, code, message });
    emit({ type: 'warning', path: `snapshots/${id}`, code, message });
  };
  // Full ids are taken without a listing (a source that cannot list): one that is not
  // there is a wrong id, not damage.
  const named = new Set((options.snapshots ?? []).filter((s) => isObjectId(s)));
  const read = async (id: ObjectId) => {
    try {
      return { id, ...(await readRecord(srcSnapshots, srcBackend, id, signal)) };
    } catch (err) {
      if (hasCode(err, 'not-found') && !signal?.aborted) {
        if (named.has(id)) throw new NotFoundError(id, `no snapshot ${id} in ${src.location}`);
        return undefined; // forgotten in the source since it was listed
      }
      if (!sourceDamage(err, signal)) throw err;
      fail(id, err, 'cannot be read in the source');
      return undefined;
    }
  };
  for await (const r of mapConcurrent(missing, checkers, read)) if (r) records.push(r);
  orderSnapshots(records);
  emit({
    type: 'start',
    operation: 'sync',
    source: src.location,
    destination: dst.location,
    snapshots: records.map((r) => r.id),
    skipped,
    dryRun,
  });

  const throttle = new Throttle(200);
  let done = 0;
  let recordBytes = 0;
  // Progress in file content: the snapshots' recorded sizes, in all and of those done,
  // plus what the copier has dealt with of the current one (at most its size: a subtree
  // shared with an earlier snapshot is skipped whole, and counted once).
  const totalBytes = records.reduce((n, r) => n + contentOf(r.snapshot), 0);
  let bytesDone = 0;
  let current = { from: 0, size: 0 };
  const progress = (force = false) => {
    if (!force && !throttle.due()) return;
    const inCurrent = Math.min(current.size, copier.contentBytes - current.from);
    emit({
      type: 'progress',
      operation: 'sync',
      snapshotsDone: done,
      snapshotsTotal: records.length,
      elapsedMs: Date.now() - started,
      ...copier.counts,
      bytesSent: copier.counts.bytesSent + recordBytes,
      bytes: bytesDone + Math.max(0, inCurrent),
      totalBytes,
    });
  };
  const copier = new TreeCopier({
    // The source needs no inventory: it is only read.
    source: new BlobStore(srcBackend, { codec: src.codec }),
    destination: dst.blobStore({ backend: dstBackend, dryRun }),
    dryRun,
    transfers,
    checkers,
    signal,
    onProgress: () => progress(),
  });
  if (records.length > 0) await copier.start();

  const copied: ObjectId[] = [];
  for (const { id, plaintext, snapshot } of records) {
    throwIfAborted(signal);
    current = { from: copier.contentBytes, size: contentOf(snapshot) };
    let whole = true;
    try {
      await copier.ensureTree(snapshot.tree, snapshot.summary.bytes);
    } catch (err) {
      if (!sourceDamage(err, signal)) throw err;
      // The paths come from the repository: escaped, as everywhere they are shown.
      const paths = snapshot.paths.map(visiblePath).join(' ');
      fail(id, err, `of ${snapshot.time} (${paths}) is not copied`);
      whole = false;
    }
    bytesDone += current.size;
    current = { from: copier.contentBytes, size: 0 };
    if (!whole) continue;
    // The commit point: the record is written only once its whole tree is stored.
    if (!dryRun) {
      await lock?.confirm(signal);
      await saveRecord(dstSnapshots, dstBackend, id, plaintext, snapshot, signal);
    }
    recordBytes += (await dst.codec.seal(plaintext)).length;
    copied.push(id);
    done++;
    emit({
      type: 'snapshot',
      id,
      status: dryRun ? 'dry-run' : 'copied',
      time: snapshot.time,
      paths: snapshot.paths,
    });
    progress(true);
  }

  const source = { ...srcBackend.counts };
  const destination = { ...dstBackend.counts };
  const c = copier.counts;
  return {
    dryRun,
    copied,
    skipped,
    failed,
    blobsSent: c.blobsSent,
    dataBlobsSent: c.dataBlobsSent,
    treeBlobsSent: c.treeBlobsSent,
    bytesSent: c.bytesSent + recordBytes,
    blobsSkipped: c.blobsSkipped,
    bytesSkipped: c.bytesSkipped,
    requests: { source, destination, total: requestTotal(source) + requestTotal(destination) },
    durationMs: Date.now() - started,
  };
}

/**
 * True for what the source's own objects can be wrong about (one missing, damaged or
 * not following the format): that snapshot is passed over. Anything else (the storage
 * failing, the destination refusing, an abort) stops the sync.
 */
function sourceDamage(err: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return false;
  return hasCode(err, 'not-found') || hasCode(err, 'integrity') || hasCode(err, 'format');
}

/** A snapshot's file content in bytes, as recorded (0 if the record lacks it). */
function contentOf(snapshot: Snapshot): number {
  const bytes = snapshot.summary?.bytes;
  return typeof bytes === 'number' && Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
}

/**
 * Refuses to sync between repositories that cut data differently, or that name objects
 * differently (encrypted vs not, or encrypted with different id keys): ids would differ.
 */
function checkCompatible(src: Repository, dst: Repository): void {
  const [a, b, from, to] = [src.config, dst.config, src.location, dst.location];
  if (src.codec.idScheme !== dst.codec.idScheme) {
    const describe = (r: Repository) =>
      r.codec.encrypted ? 'encrypted (keyed ids)' : 'not encrypted (SHA-256 ids)';
    throw new MismatchError(
      `cannot sync ${from} to ${to}: they name objects differently (source ${describe(src)}, ` +
        `destination ${describe(dst)}${src.codec.encrypted && dst.codec.encrypted ? ', with different id keys' : ''}), ` +
        `so nothing would deduplicate. Create the destination with 'cairn init --copy-params-from ${from}' ` +
        `(an encrypted source needs an encrypted destination)`,
    );
  }
  if (sameChunking(a, b)) return;
  const show = (c: RepoConfig) =>
    `min ${c.chunker.min}, avg ${c.chunker.avg}, max ${c.chunker.max}, level ${c.chunker.level}, seed ${c.encryption === 'none' ? c.chunker.seed : '(secret)'}`;
  throw new MismatchError(
    `cannot sync ${from} to ${to}: their chunker parameters differ (${show(a)} vs ${show(b)}), ` +
      `so copied data would not deduplicate with the destination's own. Create the ` +
      `destination with 'cairn init --copy-params-from ${from}'`,
  );
}

/**
 * The ids of the selected snapshots (without selectors, all those the filter matches:
 * every one when there is none), without repeats.
 */
async function selectSnapshots(
  store: SnapshotStore,
  { snapshots: selectors, filter = {} }: Pick<SyncOptions, 'snapshots' | 'filter'>,
  signal: AbortSignal | undefined,
  onUnreadable: (id: ObjectId, err: CairnError) => void,
): Promise<ObjectId[]> {
  if (!selectors || selectors.length === 0) {
    // No record needs reading without a filter (a source that cannot list reads an index).
    if (Object.keys(filter).length === 0) return store.ids(signal);
    // A record that cannot be read might match: it is selected, and fails to copy with a
    // warning as it would without a filter (a second copy matters most when the first is
    // damaged).
    const unreadable: ObjectId[] = [];
    const matched = await store.list(filter, signal, (id) => unreadable.push(id));
    return [...matched.map((r) => r.id), ...unreadable];
  }
  const ids: ObjectId[] = [];
  for (const selector of selectors) {
    // A full id needs no listing (so a source that cannot list, HTTP, still works);
    // its record is read and verified when copied.
    const id = isObjectId(selector)
      ? selector
      : (await store.resolve(selector, filter, signal, onUnreadable)).id;
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * Writes a copied record into the destination under the same id. Through the snapshot
 * store when re-encoding gives the same bytes (always, for records cairn wrote), so
 * whatever the store maintains besides the record stays current; otherwise (a record
 * from another writer, encoded differently but validly) the original bytes are stored.
 */
async function saveRecord(
  store: SnapshotStore,
  backend: CountingBackend,
  id: ObjectId,
  plaintext: Uint8Array,
  snapshot: Snapshot,
  signal: AbortSignal | undefined,
): Promise<void> {
  throwIfAborted(signal);
  if (store.codec.idOf(encodeSnapshot(snapshot)) === id) {
    await store.save(snapshot);
    return;
  }
  await backend.put(snapshotKey(id), await store.codec.seal(plaintext), {
    ifNotExists: true,
    signal,
  });
}

/** Reads a snapshot record's plaintext, verified against its id, and decodes it. */
async function readRecord(
  store: SnapshotStore,
  backend: CountingBackend,
  id: ObjectId,
  signal: AbortSignal | undefined,
): Promise<{ plaintext: Uint8Array; snapshot: Snapshot }> {
  let stored: Uint8Array;
  try {
    stored = await backend.get(snapshotKey(id), { signal });
  } catch (err) {
    if (hasCode(err, 'not-found')) {
      throw new NotFoundError(`snapshot ${id}`, `snapshot ${id} vanished from the source`);
    }
    throw err;
  }
  const source = `snapshot ${id}`;
  const plaintext = await store.codec.open(stored, source);
  const actual = store.codec.idOf(plaintext);
  if (actual !== id) {
    throw new IntegrityError(id, `snapshot ${id} is corrupt: hashes to ${actual}`, actual);
  }
  return { plaintext, snapshot: decodeSnapshot(plaintext, source) };
}

function requestTotal(c: BackendCounts): number {
  return c.get + c.put + c.stat + c.list + c.delete;
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
