import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenBucket } from '../../src/backends/token-bucket.js';

describe('TokenBucket', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Whether `p` has settled after pending microtasks run. */
  async function settled(p: Promise<unknown>): Promise<boolean> {
    let done = false;
    void p.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    await vi.advanceTimersByTimeAsync(0);
    return done;
  }

  it('passes a burst up to its capacity, then paces takers at the rate', async () => {
    const bucket = new TokenBucket(1000, 10, () => Date.now());
    expect(await settled(bucket.take(10))).toBe(true);
    const next = bucket.take(5); // 5 tokens short: 5 ms at 1000/s
    expect(await settled(next)).toBe(false);
    await vi.advanceTimersByTimeAsync(4);
    expect(await settled(next)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(next)).toBe(true);
  });

  it('lets a take larger than the capacity through, then makes others wait off the debt', async () => {
    const bucket = new TokenBucket(100, 10, () => Date.now());
    expect(await settled(bucket.take(10))).toBe(true);
    const big = bucket.take(50); // 500 ms of debt
    const after = bucket.take(1); // waits for the debt too: 510 ms
    await vi.advanceTimersByTimeAsync(500);
    expect(await settled(big)).toBe(true);
    expect(await settled(after)).toBe(false);
    await vi.advanceTimersByTimeAsync(10);
    expect(await settled(after)).toBe(true);
  });

  it('refills over time but never above capacity', async () => {
    const bucket = new TokenBucket(10, 5, () => Date.now());
    await bucket.take(5);
    vi.advanceTimersByTime(200);
    expect(bucket.available()).toBeCloseTo(2);
    vi.advanceTimersByTime(10_000);
    expect(bucket.available()).toBe(5);
  });

  it('gives the tokens back when the wait is aborted', async () => {
    const bucket = new TokenBucket(10, 10, () => Date.now());
    await bucket.take(10);
    const controller = new AbortController();
    const waiting = bucket.take(5, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'aborted' });
    expect(bucket.available()).toBe(0);
  });

  it('rejects a non-positive rate', () => {
    expect(() => new TokenBucket(0)).toThrow(/positive/);
    expect(() => new TokenBucket(Number.POSITIVE_INFINITY)).toThrow(/positive/);
  });
});
