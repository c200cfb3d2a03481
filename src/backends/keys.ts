/**
 * Key and option checks shared by the backends: they turn the RangeError of
 * `validateKey` into a `usage` CairnError so callers can branch on `code`.
 */
import { UsageError } from '../core/errors.js';
import { validateKey, validatePrefix } from './backend.js';

/** Validates a backend key (see `validateKey`), throwing UsageError when it is unsafe. */
export function checkKey(key: string): string {
  try {
    return validateKey(key);
  } catch (err) {
    throw new UsageError(`invalid backend key ${JSON.stringify(key)}`, { cause: err });
  }
}

/** Validates a list prefix (see `validatePrefix`), throwing UsageError when it is unsafe. */
export function checkPrefix(prefix: string): string {
  try {
    return validatePrefix(prefix);
  } catch (err) {
    throw new UsageError(`invalid backend list prefix ${JSON.stringify(prefix)}`, { cause: err });
  }
}

/** True when `key` passes `validateKey` (used to skip foreign and temporary files). */
export function isValidKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}
