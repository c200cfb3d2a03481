/**
 * A wrapper that retries failed calls with exponential backoff and full jitter. Only
 * BackendErrors marked `retryable` are retried; `not-found`, `usage`, `aborted` and
 * non-retryable backend errors are passed through at once, and so is every failure
 * once `stopRetrying` has fired.
 */
import { sleep, throwIfAborted } from '../core/abort.js';
import { BackendError, UsageError } from '../core/errors.js';
import type { Backend, CallOptions, GetOptions, ObjectInfo, PutOptions } from './backend.js';
import { ForwardingBackend } from './forwarding.js';
import type { BackendVerb } from './verbs.js';

/** What `onRetry` is told before each wait. */
export interface RetryInfo {
  verb: BackendVerb;
  /** The key, or the prefix for `list`. */
  key: string;
  /** 1 for the first retry, 2 for the second... */
  attempt: number;
  /** Retries allowed (RetryOptions.retries): `attempt` of `retries`. */
  retries: number;
  /** How long the wrapper waits before retrying. */
  delayMs: number;
  /** The failure being retried. */
  error: BackendError;
}

/** Options for RetryBackend. */
export interface RetryOptions {
  /** Retries after the first attempt (default 5); 0 disables retrying. */
  retries?: number;
  /** Backoff cap of the first retry (default 100 ms); it doubles with each retry. */
  baseDelayMs?: number;
  /** Largest backoff cap (default 10 s). */
  maxDelayMs?: number;
  /** Called before each wait, e.g. to log or count retries. */
  onRetry?: (info: RetryInfo) => void;
  /** Source of jitter in [0, 1) (default Math.random); tests pass a fixed one. */
  random?: () => number;
  /**
   * Once this fires, failures are no longer retried. The command line passes its
   * Ctrl-C signal: what still runs after an interruption is clean-up (releasing a
   * lock), which gets one attempt, not minutes of retries against a server that has
   * stopped answering.
   */
  stopRetrying?: AbortSignal;
}

/** True when `err` is a BackendError that says repeating the call may succeed. */
export function isRetryable(err: unknown): err is BackendError {
  return err instanceof BackendError && err.retryable;
}

/**
 * Retries retryable failures of the inner backend. Waits honour each call's signal.
 *
 * Two cases need care because a failure may hide a success:
 * - a `put` with `ifNotExists` whose earlier attempt failed may have written the object
 *   itself (the response was lost); if the retry then finds an object, it reads it back
 *   and reports `true` when the bytes are exactly the ones being written;
 * - `list` restarts from the beginning after a failure and skips keys it already
 *   yielded (it remembers them, so memory grows with the listing). The retry budget is
 *   reset whenever a restart yields new keys.
 */
export class RetryBackend extends ForwardingBackend {
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly onRetry: ((info: RetryInfo) => void) | undefined;
  private readonly random: () => number;
  private readonly stopRetrying: AbortSignal | undefined;

  constructor(inner: Backend, options: RetryOptions = {}) {
    super(inner);
    this.retries = options.retries ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    if (!Number.isInteger(this.retries) || this.retries < 0) {
      throw new UsageError(`retries must be a non-negative integer, got ${options.retries}`);
    }
    if (!(this.baseDelayMs >= 0) || !(this.maxDelayMs >= 0)) {
      throw new UsageError('retry delays must be non-negative numbers of milliseconds');
    }
    this.onRetry = options.onRetry;
    this.random = options.random ?? Math.random;
    this.stopRetrying = options.stopRetrying;
  }

  /** The wait before retry number `attempt` + 1: uniform in [0, min(max, base * 2^attempt)). */
  delayFor(attempt: number): number {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
    return Math.floor(this.random() * cap);
  }

  override get(key: string, options?: GetOptions): Promise<Uint8Array> {
    return this.withRetry('get', key, options?.signal, () => this.inner.get(key, options));
  }

  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    let failedBefore = false;
    const written = await this.withRetry('put', key, options?.signal, async () => {
      try {
        return await this.inner.put(key, data, options);
      } catch (err) {
        failedBefore = true;
        throw err;
      }
    });
    if (written || !options?.ifNotExists || !failedBefore) return written;
    // Maybe our own earlier attempt created it: compare the stored bytes with ours.
    const signal = options.signal;
    const stored = await this.withRetry('get', key, signal, () => this.inner.get(key, { signal }));
    return Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).equals(data);
  }

  override stat(key: string, options?: CallOptions): Promise<ObjectInfo> {
    return this.withRetry('stat', key, options?.signal, () => this.inner.stat(key, options));
  }

  override delete(key: string, options?: CallOptions): Promise<void> {
    return this.withRetry('delete', key, options?.signal, () => this.inner.delete(key, options));
  }

  override async *list(prefix: string, options?: CallOptions): AsyncGenerator<ObjectInfo> {
    const signal = options?.signal;
    const yielded = new Set<string>();
    let failures = 0;
    for (;;) {
      throwIfAborted(signal);
      let progressed = false;
      try {
        for await (const info of this.inner.list(prefix, options)) {
          if (yielded.has(info.key)) continue;
          yielded.add(info.key);
          progressed = true;
          yield info;
        }
        return;
      } catch (err) {
        if (!this.mayRetry(err)) throw err;
        if (progressed) failures = 0;
        if (failures >= this.retries) throw gaveUp(err, this.retries);
        await this.wait('list', prefix, failures++, err, signal);
      }
    }
  }

  private async withRetry<T>(
    verb: BackendVerb,
    key: string,
    signal: AbortSignal | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      try {
        return await call();
      } catch (err) {
        if (!this.mayRetry(err)) throw err;
        if (attempt >= this.retries) throw gaveUp(err, this.retries);
        await this.wait(verb, key, attempt, err, signal);
      }
    }
  }

  private mayRetry(err: unknown): err is BackendError {
    return isRetryable(err) && !this.stopRetrying?.aborted;
  }

  private async wait(
    verb: BackendVerb,
    key: string,
    attempt: number,
    error: BackendError,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const delayMs = this.delayFor(attempt);
    this.onRetry?.({ verb, key, attempt: attempt + 1, retries: this.retries, delayMs, error });
    await sleep(delayMs, signal);
  }
}

/**
 * The last failure of a call retried `retries` times, saying so: "(temporary)" in its
 * message would otherwise read as if nothing had been tried.
 */
function gaveUp(err: BackendError, retries: number): BackendError {
  if (retries > 0) err.message = `${err.message} (gave up after ${retries} retries)`;
  return err;
}
