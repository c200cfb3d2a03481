/** Cancellation helpers: every long operation takes an optional AbortSignal. */
import { setMaxListeners } from 'node:events';
import { AbortedError } from './errors.js';

/** Throws AbortedError if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError(undefined, { cause: signal.reason });
}

/** Resolves after `ms`, or rejects with AbortedError when `signal` fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError(undefined, { cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError(undefined, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Readies `signal` to be shared by everything one operation has in flight. Each file
 * task, request and retry wait adds its own abort listener and removes it when done;
 * with more than 10 at once Node prints "Possible EventTarget memory leak detected",
 * although nothing leaks. Operations that run work concurrently call this on the
 * caller's signal when they start.
 */
export function shareSignal(signal: AbortSignal | undefined): void {
  if (signal) setMaxListeners(0, signal);
}

/**
 * `source`, ending with AbortedError as soon as `signal` fires, even while it waits for
 * its next item (a pipe whose writer has stalled would otherwise hold the operation until
 * it writes again). Stopped before its end, the source is ended (`return`) and, if it is
 * a stream, destroyed: a stream's `return` waits for a pending read, and its open handle
 * would keep the process alive.
 */
export async function* abortable<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T> {
  const items = source[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      throwIfAborted(signal);
      const next = signal ? await orAborted(items.next(), signal) : await items.next();
      if (next.done) {
        ended = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!ended) {
      const stream = source as { destroy?: unknown };
      if (typeof stream.destroy === 'function') stream.destroy();
      // Not awaited, and whatever it returns or throws: the operation is over.
      Promise.resolve()
        .then(() => items.return?.())
        .catch(() => {});
    }
  }
}

/**
 * `work`, or AbortedError as soon as `signal` fires, without waiting for `work` (a read
 * or write that waits on a stalled pipe). A failure of `work` once the signal has fired
 * is the stop too. The listener is its own and removed once `work` settles: racing many
 * operations against one long-lived "aborted" promise would leave a reaction on it per
 * operation, each holding its result until the end.
 */
export function orAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new AbortedError(undefined, { cause: signal.reason }));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(signal.aborted ? new AbortedError(undefined, { cause: err }) : err);
      },
    );
  });
}
