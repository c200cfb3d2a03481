/**
 * Running writers (backup, sync into a repository) under a shared lock.
 *
 * `withSharedLock` takes a shared lock, then waits while a prune is *sweeping* (deleting
 * blobs), then drops the local blob inventory if prune published a new epoch since the
 * repository was opened. From the moment the lock is written, a prune that starts a sweep
 * sees it and postpones; so the writer never relies on a blob a sweep is deleting. The
 * wait is bounded by the sweep's own duration (a sweep that dies leaves a lock that goes
 * stale). See docs/design.md, "Prune".
 */
import { Lock, type LockInfo, underLock, waitForSweep } from '../repo/locks.js';
import { readPruneEpoch } from '../repo/prune-state.js';
import type { Repository } from '../repo/repository.js';

/** Options for withSharedLock. */
export interface SharedLockOptions {
  /** Poll interval while a sweep is in progress (default 1 s). */
  pollMs?: number;
  /** Called each time the writer has to wait for a sweep. */
  onWait?: (sweep: LockInfo) => void;
  signal?: AbortSignal;
}

/**
 * Runs `fn` holding a shared lock of `operation` on `repo`; `fn` calls `lock.confirm()`
 * right before its commit point.
 */
export async function withSharedLock<T>(
  repo: Repository,
  operation: string,
  fn: (lock: Lock) => Promise<T>,
  options: SharedLockOptions = {},
): Promise<T> {
  const lock = await Lock.acquire(repo.backend, {
    exclusive: false,
    operation,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return underLock(lock, async () => {
    await waitForSweep(repo.backend, options);
    await dropStaleInventory(repo, options.signal);
    return fn(lock);
  });
}

/**
 * Runs `fn` holding an exclusive lock of `operation` on `repo` (forget, tag, rewrite:
 * one at a time, and no prune meanwhile), released afterwards; a dry run, which changes
 * nothing, takes none (`fn` gets undefined).
 */
export async function withExclusiveLock<T>(
  repo: Repository,
  operation: string,
  options: { dryRun: boolean; signal?: AbortSignal | undefined },
  fn: (lock: Lock | undefined) => Promise<T>,
): Promise<T> {
  const { signal } = options;
  const lock = options.dryRun
    ? undefined
    : await Lock.acquire(repo.backend, {
        exclusive: true,
        operation,
        ...(signal ? { signal } : {}),
      });
  return underLock(lock, () => fn(lock));
}

/**
 * Drops `repo`'s blob inventory if a prune published a new epoch since it was filled:
 * blobs it lists may be gone. A writer calls this once its lock is held, before it
 * looks at what is stored.
 */
export async function dropStaleInventory(repo: Repository, signal?: AbortSignal): Promise<void> {
  if (!repo.inventory) return;
  const epoch = await readPruneEpoch(repo.backend, { signal });
  if (epoch !== repo.inventory.epoch) await repo.inventory.invalidate();
}
