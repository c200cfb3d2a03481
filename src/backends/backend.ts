/**
 * The storage interface every backend implements, and its contract.
 *
 * A backend is a flat key/value store of immutable-ish objects. Keys are relative,
 * '/'-separated paths made of `[a-z0-9._-]` segments (see `validateKey`). Everything
 * above this layer (blob store, snapshots, locks) is built from these five verbs, and
 * retry, rate limits and caching are wrappers that implement the same interface.
 */
import type { ErrorCode } from '../core/errors.js';

/** What `stat` and `list` report about one object. */
export interface ObjectInfo {
  /** The object's key, relative to the backend root. */
  key: string;
  /** Its size in bytes. */
  size: number;
}

/** Options every call accepts. */
export interface CallOptions {
  /** Cancels the call; a cancelled call MUST reject with an `aborted` error. */
  signal?: AbortSignal;
}

/** A byte range for `get`. */
export interface GetOptions extends CallOptions {
  /** First byte to return (default 0). */
  offset?: number;
  /** Number of bytes to return (default: to the end). */
  length?: number;
}

/** Options for `put`. */
export interface PutOptions extends CallOptions {
  /**
   * When true, the put MUST NOT replace an existing object: if `key` exists the call
   * resolves `false` and leaves the object untouched. Backends that cannot do this
   * atomically say so in `capabilities.atomicCreate`; they still check first.
   */
  ifNotExists?: boolean;
  /**
   * True for a content-addressed blob (`data/`, `tree/`): written once, kept long, read
   * seldom, and the bulk of a repository. A backend may store it in a cheaper class
   * (S3's `storageClass`); other objects (config, records, locks) stay in the default.
   */
  blob?: boolean;
}

/** Optional abilities, declared rather than discovered by failing. */
export interface BackendCapabilities {
  /** `put`, `delete` are allowed. Read-only backends MUST reject them with `usage`. */
  writable: boolean;
  /** `list` works (plain HTTP servers cannot list). */
  listable: boolean;
  /** `put` with `ifNotExists` is atomic against concurrent writers. */
  atomicCreate: boolean;
}

/**
 * The storage contract. Implementations MUST:
 * - make `put` atomic: a reader sees the whole new object or the old state, never a
 *   partial object, even if the writer crashes midway;
 * - reject `get`/`stat` of a missing key with a `not-found` CairnError;
 * - reject a ranged `get` whose offset is past the end with a non-retryable error, and
 *   return fewer bytes than asked only when the range runs past the end (an offset
 *   exactly at the end may resolve empty or reject: S3 answers 416 there);
 * - reject a key that fails `validateKey` (or a prefix failing `validatePrefix`) before
 *   touching storage, with a `usage` error (see keys.ts `checkKey`) or that RangeError;
 * - make `delete` of a missing key succeed (deletion is idempotent);
 * - return every object under `prefix` from `list` exactly once, in any order; keys of
 *   temporary files of in-progress writes MUST NOT be listed;
 * - translate their own failures into CairnErrors (`not-found`, `backend` with
 *   `retryable`), so that nothing above inspects SDK errors or messages.
 */
export interface Backend {
  /** Where this backend stores data, for messages (a path or URL). Never holds secrets. */
  readonly location: string;
  readonly capabilities: BackendCapabilities;

  /** Reads an object, or the byte range of it given by `offset` and `length`. */
  get(key: string, options?: GetOptions): Promise<Uint8Array>;
  /** Stores an object. Resolves true if written, false if `ifNotExists` found one. */
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean>;
  /** Size of an object; `not-found` if missing. */
  stat(key: string, options?: CallOptions): Promise<ObjectInfo>;
  /** Every object whose key starts with `prefix` (a folder-like prefix such as `snapshots/`). */
  list(prefix: string, options?: CallOptions): AsyncIterable<ObjectInfo>;
  /** Removes an object; succeeds when it is already gone. */
  delete(key: string, options?: CallOptions): Promise<void>;
  /** Releases connections and handles. Further calls are undefined. */
  close(): Promise<void>;
}

/** Error codes a backend call may reject with. */
export type BackendErrorCode = Extract<ErrorCode, 'not-found' | 'backend' | 'aborted' | 'usage'>;

const KEY_SEGMENT = /^[a-z0-9._-]+$/;

/**
 * Checks that `key` is a safe relative key: non-empty '/'-separated segments of
 * `[a-z0-9._-]`, none of them `.` or `..`. Returns the key, or throws a RangeError.
 * Backends call this before touching storage so a bad key can never escape the root.
 */
export function validateKey(key: string): string {
  if (key.length === 0 || key.length > 512) throw new RangeError(`invalid key length: ${key}`);
  for (const segment of key.split('/')) {
    if (!KEY_SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw new RangeError(`invalid backend key: ${JSON.stringify(key)}`);
    }
  }
  return key;
}

/** Checks a list prefix: empty, or a valid key optionally ending in '/'. */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}
