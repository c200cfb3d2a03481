/**
 * Resolves the `offset`/`length` of a ranged `get` against an object's size, with the
 * contract's rules: a range running past the end is cut short, a range starting past
 * the end is a non-retryable error.
 */
import { BackendError, UsageError } from '../core/errors.js';
import type { GetOptions } from './backend.js';

/** A resolved byte range: `start` inclusive, `end` exclusive, both within the object. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Checks that `offset`/`length` are non-negative safe integers; throws UsageError if not. */
export function checkRangeOptions(key: string, options: GetOptions | undefined): void {
  const { offset, length } = options ?? {};
  if (offset !== undefined && !(Number.isSafeInteger(offset) && offset >= 0)) {
    throw new UsageError(`get ${key}: offset must be a non-negative integer, got ${offset}`);
  }
  if (length !== undefined && !(Number.isSafeInteger(length) && length >= 0)) {
    throw new UsageError(`get ${key}: length must be a non-negative integer, got ${length}`);
  }
}

/**
 * The part of an object of `size` bytes that a get with `options` returns. An offset
 * equal to the size yields an empty range; one beyond it throws a non-retryable
 * BackendError (status 416, like HTTP's "range not satisfiable").
 */
export function resolveRange(
  key: string,
  size: number,
  options: GetOptions | undefined,
  location: string,
): ByteRange {
  checkRangeOptions(key, options);
  const start = options?.offset ?? 0;
  if (start > size) {
    throw new BackendError(
      `get ${key} in ${location}: offset ${start} is past the end of the ${size}-byte object`,
      { retryable: false, status: 416 },
    );
  }
  const end = options?.length === undefined ? size : Math.min(size, start + options.length);
  return { start, end };
}
