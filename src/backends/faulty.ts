/**
 * A wrapper that injects failures, deterministically from a seed, to test retries and
 * the layers above them. A fault is a retryable BackendError thrown either before the
 * inner call (the request never arrived) or after it (the request was carried out but
 * the response was lost: a put that did write, a delete that did delete).
 */
import { BackendError, UsageError } from '../core/errors.js';
import type { Backend, CallOptions, GetOptions, ObjectInfo, PutOptions } from './backend.js';
import { ForwardingBackend } from './forwarding.js';
import { seededRandom } from './prng.js';
import { BACKEND_VERBS, type BackendVerb } from './verbs.js';

/** When a fault strikes relative to the inner call. */
export type FaultTiming = 'before' | 'after';

/** Options for FaultyBackend. */
export interface FaultyOptions {
  /** Probability in [0, 1] that a call fails. */
  failRate: number;
  /** Seed of the generator deciding which calls fail (default 1). */
  seed?: number;
  /** Share of faults that strike after the inner call, in [0, 1] (default 0.5). */
  afterRate?: number;
  /** Verbs that may fail (default all five). */
  verbs?: readonly BackendVerb[];
}

/** Most entries a `list` yields before an "after" fault cuts it off. */
const LIST_CUTOFF_MAX = 16;

/**
 * Fails calls of the inner backend at random, reproducibly. For a `list`, a "before"
 * fault rejects at the first entry, an "after" fault after a random number of entries
 * (a connection broken mid-listing). `failNext` forces faults for targeted tests.
 */
export class FaultyBackend extends ForwardingBackend {
  /** Faults injected so far. */
  faults = 0;
  private readonly failRate: number;
  private readonly afterRate: number;
  private readonly verbs: ReadonlySet<BackendVerb>;
  private readonly random: () => number;
  private readonly forced: FaultTiming[] = [];

  constructor(inner: Backend, options: FaultyOptions) {
    super(inner);
    const { failRate, afterRate = 0.5 } = options;
    if (!(failRate >= 0 && failRate <= 1) || !(afterRate >= 0 && afterRate <= 1)) {
      throw new UsageError('failRate and afterRate must be between 0 and 1');
    }
    this.failRate = failRate;
    this.afterRate = afterRate;
    this.verbs = new Set(options.verbs ?? BACKEND_VERBS);
    this.random = seededRandom(options.seed ?? 1);
  }

  /** Makes the next `count` calls (of any verb) fail at `timing`, whatever the rate. */
  failNext(count = 1, timing: FaultTiming = 'before'): void {
    for (let i = 0; i < count; i++) this.forced.push(timing);
  }

  override get(key: string, options?: GetOptions): Promise<Uint8Array> {
    return this.faulty('get', key, () => this.inner.get(key, options));
  }

  override put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    return this.faulty('put', key, () => this.inner.put(key, data, options));
  }

  override stat(key: string, options?: CallOptions): Promise<ObjectInfo> {
    return this.faulty('stat', key, () => this.inner.stat(key, options));
  }

  override delete(key: string, options?: CallOptions): Promise<void> {
    return this.faulty('delete', key, () => this.inner.delete(key, options));
  }

  override async *list(prefix: string, options?: CallOptions): AsyncGenerator<ObjectInfo> {
    const timing = this.decide('list');
    if (timing === 'before') throw this.fault('before', 'list', prefix);
    const cutoff = timing === 'after' ? Math.floor(this.random() * LIST_CUTOFF_MAX) : Infinity;
    let n = 0;
    for await (const info of this.inner.list(prefix, options)) {
      if (n++ === cutoff) throw this.fault('after', 'list', prefix);
      yield info;
    }
    // A listing shorter than the cutoff loses its last response instead.
    if (timing === 'after') throw this.fault('after', 'list', prefix);
  }

  private async faulty<T>(verb: BackendVerb, key: string, call: () => Promise<T>): Promise<T> {
    const timing = this.decide(verb);
    if (timing === 'before') throw this.fault(timing, verb, key);
    const result = await call();
    if (timing === 'after') throw this.fault(timing, verb, key);
    return result;
  }

  private decide(verb: BackendVerb): FaultTiming | undefined {
    const forced = this.forced.shift();
    if (forced) return forced;
    if (!this.verbs.has(verb) || this.failRate === 0) return undefined;
    if (this.random() >= this.failRate) return undefined;
    return this.random() < this.afterRate ? 'after' : 'before';
  }

  private fault(timing: FaultTiming, verb: BackendVerb, key: string): BackendError {
    this.faults++;
    return new BackendError(`injected fault ${timing} ${verb} ${key} in ${this.location}`, {
      retryable: true,
    });
  }
}
