/**
 * A token bucket for rate limits (requests per second, bytes per second). A taker may
 * go into debt, so a request larger than the bucket still passes, and later takers
 * wait until the debt is paid off: the long-run rate is exact.
 */
import { sleep } from '../core/abort.js';
import { UsageError } from '../core/errors.js';

/** Refills at `rate` tokens per second up to `capacity`; `take` waits for tokens. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  /**
   * @param rate tokens added per second (> 0).
   * @param capacity most tokens saved up for a burst (default: one second's worth).
   * @param now clock in milliseconds (tests pass a fake one).
   */
  constructor(
    readonly rate: number,
    readonly capacity: number = rate,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(rate > 0) || !Number.isFinite(rate)) {
      throw new UsageError(`a rate limit must be a positive number, got ${rate}`);
    }
    if (!(capacity > 0)) throw new UsageError(`bucket capacity must be positive, got ${capacity}`);
    this.tokens = capacity;
    this.last = now();
  }

  /** Tokens available now (negative while in debt). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /**
   * Takes `n` tokens and resolves once they are paid for. If `signal` fires while
   * waiting, the tokens are given back and the call rejects with AbortedError.
   */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    this.refill();
    this.tokens -= n;
    if (this.tokens >= 0) return;
    try {
      await sleep((-this.tokens / this.rate) * 1000, signal);
    } catch (err) {
      this.tokens += n;
      throw err;
    }
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }
}
