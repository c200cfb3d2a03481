/**
 * Concurrency limits. `Semaphore` caps how many tasks run at once; `mapConcurrent` runs
 * an async function over an iterable with a cap, keeping results in input order and
 * reading the input lazily, so memory stays bounded by the cap, not the input size.
 * `settleAll` waits for every task before reporting a failure.
 */

/** Counts free slots; `acquire` waits for one, `release` gives one back. */
export class Semaphore {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`semaphore size ${size}`);
    this.free = size;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }

  /** Runs `fn` while holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

/**
 * Applies `fn` to each item with at most `concurrency` calls in flight and yields the
 * results in input order. The first rejection stops the intake and is rethrown.
 */
export async function* mapConcurrent<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): AsyncGenerator<R> {
  const pending: Array<Promise<R>> = [];
  let index = 0;
  try {
    for await (const item of items) {
      const p = fn(item, index++);
      // Avoid unhandled-rejection warnings while the promise waits in the queue.
      p.catch(() => {});
      pending.push(p);
      if (pending.length >= concurrency) yield await pending.shift()!;
    }
    while (pending.length > 0) yield await pending.shift()!;
  } finally {
    // Let in-flight work settle so nothing keeps writing after we return.
    await Promise.allSettled(pending);
  }
}

/** Runs `fn` over all items with bounded concurrency and discards results. */
export async function forEachConcurrent<T>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  for await (const _ of mapConcurrent(items, concurrency, fn)) {
    // results are not needed
  }
}

/**
 * Waits for every promise to settle, then rejects with the first failure, if any: unlike
 * Promise.all, nothing is still running when the caller hears of the failure (and, say,
 * closes what the others use).
 */
export async function settleAll(promises: Iterable<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
