/**
 * The note `backup` and `sync` print while a prune is deleting blobs and they wait for
 * it: said once, though the lock is polled every second, naming whose prune it is and
 * how long the wait can last (a sweep that died leaves a lock that goes stale).
 */
import { describeLock, formatAge, LOCK_STALE_MS, type LockInfo } from '../repo/locks.js';
import type { Output } from './output.js';

export function lockWaitNote(out: Output): (sweep: LockInfo) => void {
  let said = false;
  return (sweep) => {
    if (said) return;
    said = true;
    const refreshed = Date.parse(sweep.record.refreshedAt);
    const staleIn = Number.isFinite(refreshed)
      ? ` (at most ${formatAge(Math.max(0, refreshed + LOCK_STALE_MS - Date.now()))} more, should it have died)`
      : '';
    out.line(`waiting for a prune to finish deleting: ${describeLock(sweep)}${staleIn}...`);
  };
}
