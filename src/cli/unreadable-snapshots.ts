/**
 * Snapshot records that cannot be read, met while listing snapshots (`snapshots`,
 * `find`): each is named in a warning (an event with `--json`) and counted, so the
 * summary can say how many and the exit code can be 3.
 */
import type { CairnError } from '../core/errors.js';
import type { Output } from './output.js';

/** A listing's `onUnreadable` callback, and how many times it was called. */
export interface UnreadableSnapshots {
  readonly onUnreadable: (id: string, err: CairnError) => void;
  readonly count: number;
}

/** Warns about, and counts, the unreadable records of one listing. */
export function unreadableSnapshots(out: Output): UnreadableSnapshots {
  let count = 0;
  return {
    onUnreadable: (id, err) => {
      count++;
      const path = `snapshots/${id}`;
      out.warn(`${path}: ${err.message}`, {
        type: 'warning',
        path,
        code: err.code,
        message: err.message,
      });
    },
    get count() {
      return count;
    },
  };
}
