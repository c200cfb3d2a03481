/**
 * The blob inventory: a local, per-remote record of which blobs (`data/…`, `tree/…`)
 * a repository holds, so that backup and sync do not ask the server about every chunk.
 *
 * It is a `level` database under the repository's cache directory, one per repository
 * id and backend location, mapping blob key -> stored size. It is
 * - filled by one listing of `data/` and `tree/` when empty, or older than `maxAgeMs`;
 * - kept current by this client: every blob it writes or finds by `stat` is recorded.
 *
 * Using it stays correct when other clients write to the same repository because a hit
 * is always true (blobs are immutable and content-addressed: a key, once stored, holds
 * the same bytes forever) and a miss is only a hint: callers that need the truth fall
 * back to `stat` and record what they learn (see BlobStore).
 *
 * What can make a hit false is deletion, which only `prune` (a later feature) does.
 * The hook for it is the *epoch*: the inventory remembers the epoch it was filled
 * under, and one opened with a different epoch is emptied and refilled. Prune will
 * publish a new epoch in the repository whenever it deletes blobs; until then every
 * repository has epoch "0". `invalidate()` drops the contents outright.
 *
 * `level` allows one process per database, so like the stat cache there are numbered
 * slots; a process that finds all slots held runs without an inventory (every check
 * then asks the server, which is slower but equally correct). Only the current
 * process's lookups are in memory, never the whole inventory.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Level } from 'level';
import type { Backend } from '../backends/backend.js';
import { throwIfAborted } from '../core/abort.js';
import { makeDirectories } from '../core/mkdirs.js';
import { type BlobKind, blobIdOfKey, blobKey, blobPrefix } from './layout.js';

/** Options for BlobInventory. */
export interface InventoryOptions {
  /** Directory holding the inventory databases (the repository's cache dir). */
  dir: string;
  /** The backend location the inventory describes; hashed into the database name. */
  location: string;
  /** A listing older than this many ms is redone (default 7 days; Infinity: never). */
  maxAgeMs?: number;
  /** The repository's deletion epoch (default "0"); see the module comment. */
  epoch?: string;
  /** Slots tried before giving up (default 4). */
  slots?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** What the inventory knows about its own freshness. */
export interface InventoryState {
  /** Whether a database could be opened (false: all slots were held by other processes). */
  available: boolean;
  /** The slot in use, when available. */
  slot?: number;
  /** When the last complete listing finished (ms since the epoch). */
  filledAt?: number;
  /** Blobs the last listing found. */
  listed?: number;
  epoch: string;
}

/** Counters of what the inventory did in this process. */
export interface InventoryStats {
  /** Lookups answered "present". */
  hits: number;
  /** Lookups not found in the inventory. */
  misses: number;
  /** Keys recorded (after writes and stats). */
  recorded: number;
  /** Complete listings done. */
  fills: number;
}

/** Default age after which the inventory is refilled by a new listing. */
export const DEFAULT_INVENTORY_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

const META_KEY = '!meta';
const META_VERSION = 1;
const DEFAULT_SLOTS = 4;
/** Entries per level batch while filling. */
const FILL_BATCH = 1000;
/**
 * Tables LevelDB keeps open (level's default: 1000). LevelDB memory-maps each open
 * table, and the pages a lookup touches (64 KiB around each, with the kernel's
 * fault-around) stay resident while the table is open, so with the default an inventory
 * of 10 million blobs (411 tables of 2 MiB) let 20,000 lookups map most of its 751 MB:
 * peak RSS 500-524 MiB (a tmpfs copy of the bench fixture). 100 open tables bound that
 * to about 90 tables' worth (72-78 MiB measured), at the cost of reopening tables, which
 * only large inventories need (0.15-0.26 -> 0.29-0.38 ms per lookup there).
 */
const MAX_OPEN_FILES = 100;

interface Meta {
  v: number;
  epoch: string;
  /** Set once a listing completed. */
  filledAt?: number;
  listed?: number;
}

/**
 * A per-remote inventory of stored blobs. Opening is lazy (the constructor does no I/O),
 * so a Repository can own one without paying for it in commands that never check blobs.
 */
export class BlobInventory {
  readonly maxAgeMs: number;
  readonly epoch: string;
  readonly stats: InventoryStats = { hits: 0, misses: 0, recorded: 0, fills: 0 };
  private readonly now: () => number;
  private opening: Promise<Level<string, string> | undefined> | undefined;
  private db: Level<string, string> | undefined;
  private slot: number | undefined;
  private meta: Meta;
  private preparing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: InventoryOptions) {
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_INVENTORY_MAX_AGE_MS;
    this.epoch = options.epoch ?? '0';
    this.now = options.now ?? Date.now;
    this.meta = { v: META_VERSION, epoch: this.epoch };
    if (!(this.maxAgeMs >= 0)) {
      throw new RangeError(`inventory max age must be >= 0 ms, got ${options.maxAgeMs}`);
    }
  }

  /** The database directory name for a location: a hash, so URLs need no escaping. */
  static dbName(location: string, slot: number): string {
    const hash = createHash('sha256').update(location).digest('hex').slice(0, 16);
    return `inventory-${hash}-${slot}`;
  }

  /** Freshness and slot information (opens the database if needed). */
  async state(): Promise<InventoryState> {
    const db = await this.open();
    return {
      available: db !== undefined,
      ...(this.slot !== undefined ? { slot: this.slot } : {}),
      ...(this.meta.filledAt !== undefined ? { filledAt: this.meta.filledAt } : {}),
      ...(this.meta.listed !== undefined ? { listed: this.meta.listed } : {}),
      epoch: this.meta.epoch,
    };
  }

  /**
   * True when a complete listing finished less than `maxAgeMs` ago: then a miss means
   * "absent, unless another client wrote it since", and writers may skip asking.
   */
  get fresh(): boolean {
    const at = this.meta.filledAt;
    return this.db !== undefined && at !== undefined && this.now() - at <= this.maxAgeMs;
  }

  /**
   * Opens the database and, when it is empty or stale and `backend` can list, fills it
   * with one listing of `backend`. Concurrent callers share one preparation; a failed
   * one (aborted, backend error) is retried by the next caller.
   */
  prepare(backend: Backend, signal?: AbortSignal): Promise<void> {
    this.preparing ??= (async () => {
      const db = await this.open();
      if (!db || this.fresh || !backend.capabilities.listable) return;
      await this.fill(backend, signal);
    })().catch((err) => {
      this.preparing = undefined;
      throw err;
    });
    return this.preparing;
  }

  /** The stored size of `key` if the inventory holds it, else undefined. */
  async lookup(key: string): Promise<number | undefined> {
    const db = await this.open();
    if (!db) return undefined;
    const value = await db.get(key);
    if (value === undefined) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return Number(value);
  }

  /** `lookup` by kind and id. */
  lookupBlob(kind: BlobKind, id: string): Promise<number | undefined> {
    return this.lookup(blobKey(kind, id));
  }

  /** Records that `key` is stored with `size` bytes. */
  async record(key: string, size: number): Promise<void> {
    const db = await this.open();
    if (!db) return;
    await db.put(key, String(size));
    this.stats.recorded++;
  }

  /**
   * Empties the inventory and refills it from one listing of `data/` and `tree/`.
   * The listing time is stored only when it completes, so an interrupted fill leaves
   * a partial (still correct: every entry is real) inventory that is not `fresh`.
   */
  async fill(backend: Backend, signal?: AbortSignal): Promise<{ blobs: number; ms: number }> {
    const db = await this.open();
    if (!db) return { blobs: 0, ms: 0 };
    const started = this.now();
    await db.clear();
    this.meta = { v: META_VERSION, epoch: this.epoch };
    await this.saveMeta(db);
    let blobs = 0;
    for (const kind of ['data', 'tree'] as const) {
      let batch: Array<{ type: 'put'; key: string; value: string }> = [];
      for await (const info of backend.list(blobPrefix(kind), { signal })) {
        // Only objects named exactly as blobs (a stray copy elsewhere is not one).
        if (blobIdOfKey(kind, info.key) === undefined) continue;
        batch.push({ type: 'put', key: info.key, value: String(info.size) });
        if (batch.length >= FILL_BATCH) {
          await db.batch(batch);
          blobs += batch.length;
          batch = [];
          throwIfAborted(signal);
        }
      }
      await db.batch(batch);
      blobs += batch.length;
    }
    this.meta = { ...this.meta, filledAt: this.now(), listed: blobs };
    await this.saveMeta(db);
    this.stats.fills++;
    return { blobs, ms: this.now() - started };
  }

  /** Forgets everything (what prune will call after deleting blobs). */
  async invalidate(): Promise<void> {
    const db = await this.open();
    this.preparing = undefined;
    if (!db) return;
    await db.clear();
    this.meta = { v: META_VERSION, epoch: this.epoch };
    await this.saveMeta(db);
  }

  /** Closes the database; the inventory cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const db = await this.opening?.catch(() => undefined);
    this.db = undefined;
    await db?.close();
  }

  private open(): Promise<Level<string, string> | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    this.opening ??= this.openSlot();
    return this.opening;
  }

  /** Opens the first slot no other process holds, or resolves undefined. */
  private async openSlot(): Promise<Level<string, string> | undefined> {
    await makeDirectories(this.options.dir);
    const slots = this.options.slots ?? DEFAULT_SLOTS;
    for (let slot = 0; slot < slots; slot++) {
      const path = join(this.options.dir, BlobInventory.dbName(this.options.location, slot));
      const db = new Level<string, string>(path, {
        valueEncoding: 'utf8',
        maxOpenFiles: MAX_OPEN_FILES,
      });
      try {
        await db.open();
      } catch (err) {
        if (isLockedError(err)) continue;
        throw err;
      }
      const stored = readMeta(await db.get(META_KEY));
      if (stored && stored.v === META_VERSION && stored.epoch === this.epoch) {
        this.meta = stored;
      } else {
        // Another format or epoch: what it says may be wrong now, so start over.
        await db.clear();
        this.meta = { v: META_VERSION, epoch: this.epoch };
        await this.saveMeta(db);
      }
      this.db = db;
      this.slot = slot;
      return db;
    }
    return undefined;
  }

  private async saveMeta(db: Level<string, string>): Promise<void> {
    await db.put(META_KEY, JSON.stringify(this.meta));
  }
}

function readMeta(value: string | undefined): Meta | undefined {
  if (value === undefined) return undefined;
  try {
    const m = JSON.parse(value) as Meta;
    return typeof m === 'object' && m !== null && typeof m.epoch === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

function isLockedError(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 'LEVEL_LOCKED') return true;
  }
  return false;
}
