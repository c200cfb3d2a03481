/**
 * The blob store: content-addressed put/get on top of a backend.
 *
 * `put` computes the id of the plaintext (through the repository's codec: SHA-256, or
 * HMAC-SHA256 when encrypted), skips blobs the repository
 * already has, and writes new ones in their envelope with `ifNotExists`, so writing
 * the same blob twice, even from two processes, is a no-op. `get` undoes the envelope
 * and verifies the hash: a stored object that does not match its name is an
 * IntegrityError naming the blob, never silently returned.
 *
 * Knowing what is stored: a bounded LRU of keys this process has seen, then the
 * optional per-remote inventory (inventory.ts), then a `stat` of the backend. A hit in
 * the LRU or the inventory is always true (blobs are immutable); a miss is confirmed
 * with `stat` by `has`. `put` skips that `stat` when the inventory is fresh, because
 * `ifNotExists` already makes a redundant write harmless.
 */
import type { Backend, CallOptions } from '../backends/backend.js';
import type { LocalDirectSetup } from '../backends/local-direct.js';
import { hasCode, IntegrityError, NotFoundError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { type ObjectCodec, PLAIN_CODEC, plaintextKindOf } from './codec.js';
import type { BlobInventory } from './inventory.js';
import { type BlobKind, blobKey } from './layout.js';
import { LruMap } from './lru.js';

/** What `put` did. */
export interface PutResult {
  id: ObjectId;
  /** True if this call stored a new object. */
  added: boolean;
  /** Bytes written to the backend (0 when not added). */
  storedBytes: number;
}

/** Counters of what a BlobStore did, for summaries. */
export interface BlobStoreStats {
  blobsAdded: number;
  bytesAdded: number;
  blobsRead: number;
  bytesRead: number;
}

/** Options for a BlobStore. */
export interface BlobStoreOptions {
  /** Count writes but do not perform them (backup --dry-run). */
  dryRun?: boolean;
  /** The repository's blob inventory, consulted before asking the backend. */
  inventory?: BlobInventory;
  /** Keys remembered in memory (default 100,000: a few MiB). */
  knownEntries?: number;
  /** Ids, sealing and opening (default: plain SHA-256 ids, no compression). */
  codec?: ObjectCodec;
  /**
   * Write every blob put (once per store), replacing what is stored under its key: for
   * `repair snapshots`, where what is stored may be corrupt and an inventory may list
   * what was lost.
   */
  overwrite?: boolean;
}

/** Options for `put`. */
export interface BlobPutOptions extends CallOptions {
  /**
   * The caller has just found the blob missing (e.g. sync, after `has`): write it
   * without checking again. Still written with `ifNotExists`, so this is only a saving.
   */
  knownMissing?: boolean;
  /**
   * The caller gives up `plaintext`: a write through worker threads (`writeThrough`)
   * may move its buffer to the worker instead of copying it (the view is then empty).
   * Only for a plaintext whose buffer nothing else uses.
   */
  movable?: boolean;
}

/** Writes a blob around the backend (see `writeThrough`); `movable` as in BlobPutOptions. */
export type DirectPut = (
  key: string,
  plaintext: Uint8Array,
  movable: boolean,
) => Promise<{ written: boolean; storedBytes: number }>;

const DEFAULT_KNOWN = 100_000;
/**
 * Deferred puts in flight before `backlog` says wait: a few dozen keep the backend's
 * requests (or the workers' fsyncs) overlapping, which is all a walk needs to never
 * wait for one. Their data is held meanwhile: here for a backend; for `writeThrough`,
 * here while a node waits for its children and on a worker until written (not through
 * its fsync), so those are also capped by bytes.
 */
const DEFERRED_PUTS = 64;
const DEFERRED_BYTES_ON_WORKERS = 8 * 1024 * 1024;

/** Content-addressed blob access for one repository. */
export class BlobStore {
  readonly stats: BlobStoreStats = { blobsAdded: 0, bytesAdded: 0, blobsRead: 0, bytesRead: 0 };
  /** The inventory this store consults, if any. */
  readonly inventory: BlobInventory | undefined;
  /** How ids are computed and objects sealed. */
  readonly codec: ObjectCodec;
  private readonly dryRun: boolean;
  private readonly overwrite: boolean;
  /** Keys known to exist, with their stored size. Bounded, whatever the repository size. */
  private readonly known: LruMap<string, number>;
  /** Puts in flight, so two equal chunks in one backup are written once. */
  private readonly inFlight = new Map<string, Promise<PutResult>>();
  /** Set by `writeThrough`. */
  private directPut: DirectPut | undefined;
  /** Deferred puts not yet settled, and callers waiting for fewer (see `backlog`). */
  private deferred = 0;
  private deferredBytes = 0;
  private readonly backlogged: Array<() => void> = [];
  /** Claims (see `claim`) not yet written or released. */
  private readonly claims = new Map<
    string,
    { settle: (r: PutResult) => void; fail: (e: unknown) => void }
  >();

  /**
   * @param backend where blobs are stored
   * @param options options, or just the dry-run flag (the older signature)
   */
  constructor(
    readonly backend: Backend,
    options: BlobStoreOptions | boolean = {},
  ) {
    const o = typeof options === 'boolean' ? { dryRun: options } : options;
    this.dryRun = o.dryRun ?? false;
    this.overwrite = o.overwrite ?? false;
    this.inventory = o.inventory;
    this.codec = o.codec ?? PLAIN_CODEC;
    this.known = new LruMap(o.knownEntries ?? DEFAULT_KNOWN);
  }

  /** Stores `plaintext` as a blob of `kind` (if not already stored) and returns its id. */
  async put(kind: BlobKind, plaintext: Uint8Array, options?: BlobPutOptions): Promise<PutResult> {
    return this.putAs(kind, this.codec.idOf(plaintext), plaintext, options);
  }

  /**
   * `put` for callers that need the id at once and the write later (tree nodes): the id
   * now, `stored` once the blob is stored. With `after`, the write starts only once
   * `after` resolves (and fails if it rejects): a tree node is written only after the
   * nodes it references, the order every reader of a repository relies on (a stored
   * node stands for its whole subtree). Unsettled deferred puts are counted; when there
   * are too many, `backlog` says to wait. `stored` must be awaited (or its failure
   * handled): it is the only report of a failed write.
   */
  putDeferred(
    kind: BlobKind,
    plaintext: Uint8Array,
    after?: Promise<unknown>,
    options?: Pick<BlobPutOptions, 'movable'>,
  ): { id: ObjectId; stored: Promise<PutResult> } {
    const id = this.codec.idOf(plaintext);
    const bytes = plaintext.length;
    this.deferred++;
    this.deferredBytes += bytes;
    const write = after
      ? after.then(() => this.putAs(kind, id, plaintext, options))
      : this.putAs(kind, id, plaintext, options);
    const stored = write.finally(() => {
      this.deferred--;
      this.deferredBytes -= bytes;
      if (!this.overBacklog) for (const wake of this.backlogged.splice(0)) wake();
    });
    stored.catch(() => {}); // reported through the caller's await
    return { id, stored };
  }

  /** Undefined while deferred puts are few, else a promise that resolves once there are fewer. */
  backlog(): Promise<void> | undefined {
    if (!this.overBacklog) return undefined;
    return new Promise((resolve) => this.backlogged.push(resolve));
  }

  private get overBacklog(): boolean {
    if (this.deferred >= DEFERRED_PUTS) return true;
    return this.directPut !== undefined && this.deferredBytes >= DEFERRED_BYTES_ON_WORKERS;
  }

  /**
   * True when writes go to worker threads (`writeThrough`), whose latency is an fsync
   * and whose data leaves this thread at once: callers should keep many in flight (up
   * to `backlog`) rather than wait for them one by one.
   */
  get writesOnWorkers(): boolean {
    return this.directPut !== undefined;
  }

  private async putAs(
    kind: BlobKind,
    id: ObjectId,
    plaintext: Uint8Array,
    options?: BlobPutOptions,
  ): Promise<PutResult> {
    const key = blobKey(kind, id);
    if (this.known.has(key)) return { id, added: false, storedBytes: 0 };
    const pending = this.inFlight.get(key);
    if (pending) {
      return pending.then(
        () => ({ id, added: false, storedBytes: 0 }),
        // The other writer failed or gave up its claim: store it here.
        () => this.putAs(kind, id, plaintext, options),
      );
    }
    const p = this.store(key, id, plaintext, options).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async store(
    key: string,
    id: ObjectId,
    plaintext: Uint8Array,
    options?: BlobPutOptions,
  ): Promise<PutResult> {
    const call = options?.signal ? { signal: options.signal } : {};
    // A direct writer checks presence itself, without a round trip through this thread.
    if (!options?.knownMissing && !this.directPut && !this.overwrite) {
      // With a fresh inventory a miss is almost surely new data: skip the round trip and
      // let ifNotExists catch the rare blob another client wrote since the listing.
      const trustMiss = (await this.prepareInventory(options?.signal)) && this.inventory!.fresh;
      const present = trustMiss ? await this.knows(key) : await this.exists(key, call);
      if (present) return { id, added: false, storedBytes: 0 };
    }
    // Not awaited here: this frame would keep `plaintext` alive until the write is
    // durable, while the worker already holds the bytes (a copy, or the moved buffer).
    if (this.directPut && !this.dryRun)
      return this.directStored(key, id, this.directPut(key, plaintext, options?.movable === true));
    const sealed = await this.codec.seal(plaintext, plaintextKindOf(key));
    if (!this.dryRun) {
      const written = await this.backend.put(key, sealed, {
        ...call,
        ifNotExists: !this.overwrite,
        blob: true,
      });
      await this.remember(key, sealed.length);
      if (!written) return { id, added: false, storedBytes: 0 };
    }
    this.stats.blobsAdded++;
    this.stats.bytesAdded += sealed.length;
    return { id, added: true, storedBytes: sealed.length };
  }

  /** Counts and remembers a blob written by `directPut` once it is. */
  private async directStored(
    key: string,
    id: ObjectId,
    write: Promise<{ written: boolean; storedBytes: number }>,
  ): Promise<PutResult> {
    const { written, storedBytes } = await write;
    await this.remember(key, storedBytes);
    if (!written) return { id, added: false, storedBytes: 0 };
    this.stats.blobsAdded++;
    this.stats.bytesAdded += storedBytes;
    return { id, added: true, storedBytes };
  }

  /**
   * For callers that hash and seal elsewhere (the chunk pool): resolves true if the blob
   * must be written, and then reserves it, so another `claim` of the same blob resolves
   * false (and a `put` waits) instead of writing it again. Every true claim must be
   * followed by `putClaimed` or `release`; a claimer that fails without writing must
   * fail the whole operation unless it released the claim before anyone relied on it
   * (the chunk pool writes every chunk it claimed before it reports a read error).
   *
   * A claim never waits for another writer: two claimers waiting on each other's
   * unwritten chunks would deadlock.
   */
  async claim(kind: BlobKind, id: ObjectId, options?: CallOptions): Promise<boolean> {
    const key = blobKey(kind, id);
    if (this.known.has(key) || this.inFlight.has(key)) return false;
    let settle!: (r: PutResult) => void;
    let fail!: (e: unknown) => void;
    const reservation = new Promise<PutResult>((res, rej) => {
      settle = res;
      fail = rej;
    });
    reservation.catch(() => {});
    this.inFlight.set(key, reservation);
    this.claims.set(key, { settle, fail });
    try {
      const trustMiss = (await this.prepareInventory(options?.signal)) && this.inventory!.fresh;
      const present = trustMiss ? await this.knows(key) : await this.exists(key, options);
      if (!present) return true;
      this.finishClaim(key, { id, added: false, storedBytes: 0 });
      return false;
    } catch (err) {
      this.finishClaim(key, undefined, err);
      throw err;
    }
  }

  /** Writes a claimed blob, already sealed by the caller's codec (same keys, same format). */
  async putClaimed(
    kind: BlobKind,
    id: ObjectId,
    sealed: Uint8Array,
    options?: CallOptions,
  ): Promise<PutResult> {
    const key = blobKey(kind, id);
    try {
      let result: PutResult = { id, added: true, storedBytes: sealed.length };
      if (!this.dryRun) {
        const call = options?.signal ? { signal: options.signal } : {};
        const written = await this.backend.put(key, sealed, {
          ...call,
          ifNotExists: true,
          blob: true,
        });
        await this.remember(key, sealed.length);
        if (!written) result = { id, added: false, storedBytes: 0 };
      }
      if (result.added) {
        this.stats.blobsAdded++;
        this.stats.bytesAdded += sealed.length;
      }
      this.finishClaim(key, result);
      return result;
    } catch (err) {
      this.finishClaim(key, undefined, err);
      throw err;
    }
  }

  /**
   * Where a worker thread may write blobs of this store itself (a local repository, not
   * a dry run), or undefined. Such writes are reported back with `noteStored`.
   */
  directSetup(): LocalDirectSetup | undefined {
    if (this.dryRun) return undefined;
    const backend = this.backend as Backend & { directSetup?: () => LocalDirectSetup | undefined };
    return backend.directSetup?.();
  }

  /**
   * Routes this store's writes through `put` (the chunk pool's worker threads, which
   * seal and write into the local repository `directSetup` named), or back to the
   * backend with undefined.
   */
  writeThrough(put: DirectPut | undefined): void {
    this.directPut = put;
  }

  /** Counts and remembers a blob that was written around this store (see `directSetup`). */
  async noteStored(kind: BlobKind, id: ObjectId, storedBytes: number): Promise<void> {
    this.stats.blobsAdded++;
    this.stats.bytesAdded += storedBytes;
    await this.remember(blobKey(kind, id), storedBytes);
  }

  /** Gives up a claim without writing (the caller failed or was cancelled). */
  release(kind: BlobKind, id: ObjectId): void {
    const key = blobKey(kind, id);
    if (this.claims.has(key))
      this.finishClaim(key, undefined, new Error(`claim of ${key} released`));
  }

  private finishClaim(key: string, result: PutResult | undefined, err?: unknown): void {
    const claim = this.claims.get(key);
    if (!claim) return;
    this.claims.delete(key);
    this.inFlight.delete(key);
    if (result) claim.settle(result);
    else claim.fail(err);
  }

  /** True if the blob is stored: asks the backend unless this process or the inventory knows. */
  async has(kind: BlobKind, id: ObjectId, options?: CallOptions): Promise<boolean> {
    return this.exists(blobKey(kind, id), options);
  }

  /**
   * True if the blob is known to be stored without asking the backend (this process
   * saw it, or the inventory lists it). False means "not known", not "absent".
   */
  async isKnown(kind: BlobKind, id: ObjectId, options?: CallOptions): Promise<boolean> {
    await this.prepareInventory(options?.signal);
    return this.knows(blobKey(kind, id));
  }

  /**
   * Whether a miss of `isKnown` means "absent" with high confidence: the inventory was
   * filled by a complete listing within its maximum age (and records this client's
   * writes since). Only another client's recent writes are missing from it.
   */
  async inventoryFresh(signal?: AbortSignal): Promise<boolean> {
    return (await this.prepareInventory(signal)) && this.inventory!.fresh;
  }

  private async exists(key: string, options?: CallOptions): Promise<boolean> {
    await this.prepareInventory(options?.signal);
    if (await this.knows(key)) return true;
    try {
      const info = await this.backend.stat(key, options);
      await this.remember(key, info.size);
      return true;
    } catch (err) {
      if (hasCode(err, 'not-found')) return false;
      throw err;
    }
  }

  /** LRU, then inventory; no backend request. Assumes prepareInventory ran. */
  private async knows(key: string): Promise<boolean> {
    if (this.known.get(key) !== undefined) return true;
    const size = await this.inventory?.lookup(key);
    if (size === undefined) return false;
    this.known.set(key, size);
    return true;
  }

  /** Notes that `key` is stored: in memory, and in the inventory. */
  private async remember(key: string, size: number): Promise<void> {
    this.known.set(key, size);
    await this.inventory?.record(key, size);
  }

  /** Opens (and, if needed, fills) the inventory. Resolves whether there is one. */
  private async prepareInventory(signal?: AbortSignal): Promise<boolean> {
    if (!this.inventory) return false;
    await this.inventory.prepare(this.backend, signal);
    return true;
  }

  /** Reads and verifies a blob. Missing: NotFoundError; corrupt: IntegrityError. */
  async get(kind: BlobKind, id: ObjectId, options?: CallOptions): Promise<Uint8Array> {
    const key = blobKey(kind, id);
    let stored: Uint8Array;
    try {
      stored = await this.backend.get(key, options);
    } catch (err) {
      if (hasCode(err, 'not-found')) {
        throw new NotFoundError(key, `${kind} blob ${id} is missing from the repository`, {
          cause: err,
        });
      }
      throw err;
    }
    const plaintext = await this.codec.open(stored, `${kind} blob ${id}`);
    const actual = this.codec.idOf(plaintext);
    if (actual !== id) {
      throw new IntegrityError(
        id,
        `${kind} blob ${id} is corrupt: its content hashes to ${actual}`,
        actual,
      );
    }
    this.known.set(key, stored.length);
    this.stats.blobsRead++;
    this.stats.bytesRead += stored.length;
    return plaintext;
  }
}
