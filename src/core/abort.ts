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
