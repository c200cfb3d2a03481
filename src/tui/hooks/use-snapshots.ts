/** Loading the repository's snapshot records, with a reload for later changes. */
import { useCallback, useEffect, useState } from 'react';
import { describeError } from '../../core/errors.js';
import type { Repository } from '../../repo/repository.js';
import type { SnapshotRef } from '../../repo/snapshots.js';

/** The snapshot list as it loads. */
export interface SnapshotsState {
  refs: SnapshotRef[];
  loading: boolean;
  error?: string;
}

/** All snapshots of `repo` (oldest first, as the store lists them) and a reload. */
export function useSnapshots(repo: Repository): SnapshotsState & { reload: () => void } {
  const [state, setState] = useState<SnapshotsState>({ refs: [], loading: true });
  const [generation, setGeneration] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new generation means reload
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ refs: s.refs, loading: true }));
    // A damaged record is left out of the list (and named by `cairn check`), not a
    // reason to show none.
    let unreadable = 0;
    const onUnreadable = () => {
      unreadable++;
    };
    repo.snapshots.list({}, controller.signal, onUnreadable).then(
      (refs) => {
        if (controller.signal.aborted) return;
        const error =
          unreadable > 0
            ? `${unreadable} snapshot record(s) cannot be read and are not listed (cairn check names them)`
            : undefined;
        setState({ refs, loading: false, ...(error ? { error } : {}) });
      },
      (err) => {
        if (!controller.signal.aborted) {
          setState((s) => ({ refs: s.refs, loading: false, error: describeError(err) }));
        }
      },
    );
    return () => controller.abort();
  }, [repo, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}
