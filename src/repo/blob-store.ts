/**
 * The blob store: content-addressed put/get on top of a backend.
 *
 * `put` hashes the plaintext (SHA-256 via node:crypto), skips blobs the repository
 * already has, and writes new ones in their envelope with `ifNotExists`, so writing
 * the same blob twice, even from two processes, is a no-op. `get` undoes the envelope
 * and verifies the hash: a stored object that does not match its name is an
 * IntegrityError naming the blob, never silently returned.
 */
import type { Backend, CallOptions } from '../backends/backend.js';
import { hasCode, IntegrityError, NotFoundError } from '../core/errors.js';
import { type ObjectId, sha256Hex } from '../core/ids.js';
import { openBlob, sealBlob } from './blob-format.js';
import { type BlobKind, blobKey } from './layout.js';

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

/** Content-addressed blob access for one repository. */
export class BlobStore {
  /** Blobs known to exist, by key. Bounded by what this process touched, not the repo. */
  private readonly known = new Set<string>();
  /** Puts in flight, so two equal chunks in one backup are written once. */
  private readonly inFlight = new Map<string, Promise<PutResult>>();
  readonly stats: BlobStoreStats = { blobsAdded: 0, bytesAdded: 0, blobsRead: 0, bytesRead: 0 };

  constructor(
    readonly backend: Backend,
    private readonly dryRun = false,
  ) {}

  /** Stores `plaintext` as a blob of `kind` (if not already stored) and returns its id. */
  async put(kind: BlobKind, plaintext: Uint8Array, options?: CallOptions): Promise<PutResult> {
    const id = sha256Hex(plaintext);
    const key = blobKey(kind, id);
    if (this.known.has(key)) return { id, added: false, storedBytes: 0 };
    const pending = this.inFlight.get(key);
    if (pending) return pending.then(() => ({ id, added: false, storedBytes: 0 }));
    const p = this.store(key, id, plaintext, options).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async store(
    key: string,
    id: ObjectId,
    plaintext: Uint8Array,
    options?: CallOptions,
  ): Promise<PutResult> {
    if (await this.exists(key, options)) return { id, added: false, storedBytes: 0 };
    const sealed = sealBlob(plaintext);
    if (!this.dryRun) {
      const written = await this.backend.put(key, sealed, { ...options, ifNotExists: true });
      this.known.add(key);
      if (!written) return { id, added: false, storedBytes: 0 };
    }
    this.stats.blobsAdded++;
    this.stats.bytesAdded += sealed.length;
    return { id, added: true, storedBytes: sealed.length };
  }

  /** True if the blob is stored (asks the backend unless this process already knows). */
  async has(kind: BlobKind, id: ObjectId, options?: CallOptions): Promise<boolean> {
    return this.exists(blobKey(kind, id), options);
  }

  private async exists(key: string, options?: CallOptions): Promise<boolean> {
    if (this.known.has(key)) return true;
    try {
      await this.backend.stat(key, options);
      this.known.add(key);
      return true;
    } catch (err) {
      if (hasCode(err, 'not-found')) return false;
      throw err;
    }
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
    const plaintext = openBlob(stored, `${kind} ${id}`);
    const actual = sha256Hex(plaintext);
    if (actual !== id) {
      throw new IntegrityError(
        id,
        `${kind} blob ${id} is corrupt: its content hashes to ${actual}`,
        actual,
      );
    }
    this.known.add(key);
    this.stats.blobsRead++;
    this.stats.bytesRead += stored.length;
    return plaintext;
  }
}
