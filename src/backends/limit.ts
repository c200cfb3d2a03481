/**
 * A wrapper that caps calls in flight and, optionally, the request rate (`--tps-limit`)
 * and the bandwidth (`--bwlimit`) against the inner backend.
 */
import { throwIfAborted } from '../core/abort.js';
import { AbortedError, UsageError } from '../core/errors.js';
import { Semaphore } from '../core/limit.js';
import type { Backend, CallOptions, GetOptions, ObjectInfo, PutOptions } from './backend.js';
import { ForwardingBackend } from './forwarding.js';
import { TokenBucket } from './token-bucket.js';

/** Options for LimitBackend. */
export interface LimitOptions {
  /** Most calls in flight at once (a positive integer). */
  concurrency: number;
  /** Most requests started per second, with bursts of up to one second's worth. */
  tps?: number;
  /** Most bytes moved per second (put bodies and get results), bursts as for `tps`. */
  bytesPerSecond?: number;
}

/** Entries after which a `list` is charged another request, like an S3 page. */
const LIST_PAGE = 1000;

/**
 * Limits the load on the inner backend. Queued calls honour their signal. Put bodies
 * are paid for before sending, get results after receiving, so the average rate holds
 * even though sizes of reads are not known in advance. A `list` holds a slot only while
 * it fetches an entry, so a caller may read objects while it iterates a listing.
 */
export class LimitBackend extends ForwardingBackend {
  private readonly slots: Semaphore;
  private readonly requests: TokenBucket | undefined;
  private readonly bytes: TokenBucket | undefined;
  private active = 0;

  constructor(inner: Backend, options: LimitOptions) {
    super(inner);
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new UsageError(`concurrency must be a positive integer, got ${options.concurrency}`);
    }
    this.slots = new Semaphore(options.concurrency);
    this.requests = options.tps === undefined ? undefined : new TokenBucket(options.tps);
    this.bytes =
      options.bytesPerSecond === undefined ? undefined : new TokenBucket(options.bytesPerSecond);
  }

  /** Calls currently running against the inner backend. */
  get inFlight(): number {
    return this.active;
  }

  override get(key: string, options?: GetOptions): Promise<Uint8Array> {
    return this.limited(options?.signal, 1, 0, async () => {
      const data = await this.inner.get(key, options);
      await this.bytes?.take(data.length, options?.signal);
      return data;
    });
  }

  override put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    return this.limited(options?.signal, 1, data.length, () => this.inner.put(key, data, options));
  }

  override stat(key: string, options?: CallOptions): Promise<ObjectInfo> {
    return this.limited(options?.signal, 1, 0, () => this.inner.stat(key, options));
  }

  override delete(key: string, options?: CallOptions): Promise<void> {
    return this.limited(options?.signal, 1, 0, () => this.inner.delete(key, options));
  }

  override async *list(prefix: string, options?: CallOptions): AsyncGenerator<ObjectInfo> {
    const signal = options?.signal;
    const entries = this.inner.list(prefix, options)[Symbol.asyncIterator]();
    try {
      for (let n = 0; ; n++) {
        const cost = n % LIST_PAGE === 0 ? 1 : 0;
        const next = await this.limited(signal, cost, 0, () => entries.next());
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await entries.return?.();
    }
  }

  /** Runs `call` holding a slot, after paying `requests` request and `bytes` byte tokens. */
  private async limited<T>(
    signal: AbortSignal | undefined,
    requests: number,
    bytes: number,
    call: () => Promise<T>,
  ): Promise<T> {
    await this.acquire(signal);
    this.active++;
    try {
      if (requests > 0) await this.requests?.take(requests, signal);
      if (bytes > 0) await this.bytes?.take(bytes, signal);
      return await call();
    } finally {
      this.active--;
      this.slots.release();
    }
  }

  /** Waits for a free slot, or rejects with AbortedError when `signal` fires first. */
  private acquire(signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal);
    if (!signal) return this.slots.acquire();
    return new Promise<void>((resolve, reject) => {
      let state: 'waiting' | 'granted' | 'abandoned' = 'waiting';
      const onAbort = () => {
        if (state !== 'waiting') return;
        state = 'abandoned';
        reject(new AbortedError(undefined, { cause: signal.reason }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void this.slots.acquire().then(() => {
        // A slot granted after we gave up goes straight back.
        if (state === 'abandoned') {
          this.slots.release();
          return;
        }
        state = 'granted';
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
