/**
 * The warning when a command that failed or was interrupted could not release its
 * repository lock (releaseAfterFailure records it): the lock is left to go stale, and
 * the user should know why a lock of theirs is still listed.
 */
import { describeError } from '../core/errors.js';
import { formatAge, LOCK_STALE_MS, lockKey, lockLeftBy } from '../repo/locks.js';
import type { Output } from './output.js';

/** Warns on `out` when `err` left a lock behind. */
export function warnLockLeft(err: unknown, out: Output): void {
  const left = lockLeftBy(err);
  if (!left) return;
  const message =
    `lock ${left.id.slice(0, 8)} (${left.record.operation}) could not be released ` +
    `(${describeError(left.cause)}): it goes stale (at once on this host, after ` +
    `${formatAge(LOCK_STALE_MS)} elsewhere) and is then ignored; 'cairn unlock' removes it`;
  out.warn(message, {
    type: 'warning',
    path: lockKey(left.id),
    code: 'lock-not-released',
    message,
  });
}
