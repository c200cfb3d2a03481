/**
 * Repository locks: small JSON records under `locks/<random id>` that say who is working
 * on the repository, so that maintenance (prune, forget) and backups can coordinate
 * without a lock server.
 *
 * Two modes:
 * - `shared` (backup, sync into a repository): any number at once, never refused.
 *   A backup therefore never waits for a lock; it only waits out a prune *sweep* in
 *   progress (a lock whose `sweeping` flag is set), which is the short phase of prune
 *   that deletes blobs (see docs/design.md, "Prune").
 * - `exclusive` (prune, forget): at most one at a time; a second is refused with a
 *   LockedError naming the holder.
 *
 * A held lock is rewritten (`refreshedAt`) every `refreshMs` by an unref'd timer. A lock
 * is *stale*, and ignored, when it was not refreshed for `staleMs`, or when it was taken
 * on this host by a process that no longer exists. `cairn unlock` removes stale locks
 * (all locks with `--remove-all`).
 *
 * Once the operation under a lock is aborted (its signal fired: Ctrl-C), what the lock
 * still sends (a last flag write, the release) is clean-up against a server that may
 * not answer at all: it gets one deadline, `LOCK_CLEANUP_MS`, for all of it, and a
 * lock not released by then is left to go stale.
 */

import { hostname as osHostname, userInfo } from 'node:os';
import type { Backend } from '../backends/backend.js';
import { isRetryable } from '../backends/retry.js';
import { sleep } from '../core/abort.js';
import { AbortedError, hasCode, LockedError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import { writerAlive } from '../core/process.js';
import { idOfKey, LOCKS_PREFIX } from './layout.js';

/** What a lock record holds (JSON in `locks/<id>`). */
export interface LockRecord {
  host: string;
  pid: number;
  user: string;
  /** When the lock was taken (ISO 8601). */
  time: string;
  /** When it was last refreshed (ISO 8601). */
  refreshedAt: string;
  exclusive: boolean;
  /** `backup`, `sync`, `prune`, `forget`... */
  operation: string;
  /** Set by prune while it deletes blobs; new backups wait until it is cleared. */
  sweeping?: boolean;
}

/** A lock record with its id. */
export interface LockInfo {
  id: string;
  record: LockRecord;
  /** Why the lock is considered stale, or undefined if it is live. */
  stale: string | undefined;
}

/** Options for taking a lock. */
export interface LockOptions {
  exclusive: boolean;
  operation: string;
  /** Refresh interval (default 5 minutes). */
  refreshMs?: number;
  /** Age without refresh after which a lock is stale (default 30 minutes). */
  staleMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Host name to record (default: this machine's). */
  host?: string;
  /**
   * The operation's signal. Once it fires, the lock's own requests (a flag write, the
   * release) share one deadline of `cleanupMs`.
   */
  signal?: AbortSignal;
  /** How long the clean-up after an abort may take (default LOCK_CLEANUP_MS). */
  cleanupMs?: number;
}

/** Default refresh interval of held locks. */
export const LOCK_REFRESH_MS = 5 * 60_000;
/** Default age without refresh after which a lock is stale. */
export const LOCK_STALE_MS = 30 * 60_000;
/**
 * How long a lock's clean-up may take after its operation was aborted (the release's
 * DELETE, and a flag write before it). A server that has stopped answering would
 * otherwise hold Ctrl-C for the backend's timeouts and retries (minutes on S3).
 */
export const LOCK_CLEANUP_MS = 5_000;

/** A lock that could not be released after its operation failed: it is left to go stale. */
export interface LockLeft {
  /** The lock's id. */
  id: string;
  /** The record as last written. */
  record: LockRecord;
  /** Why the release failed. */
  cause: unknown;
}

/** The locks left by failed operations, by the error they failed with (see lockLeftBy). */
const locksLeft = new WeakMap<object, LockLeft>();

/**
 * The lock that could not be released after the operation failed with `err`
 * (releaseAfterFailure records it), so that a command line can tell the user.
 */
export function lockLeftBy(err: unknown): LockLeft | undefined {
  return typeof err === 'object' && err !== null ? locksLeft.get(err) : undefined;
}

/** The backend key of lock `id`. */
export function lockKey(id: string): string {
  return `${LOCKS_PREFIX}${id}`;
}

/** Why `record` is stale at `now`, or undefined when it is live. */
export function staleReason(
  record: LockRecord,
  now: number,
  staleMs = LOCK_STALE_MS,
  host = osHostname(),
): string | undefined {
  const refreshed = Date.parse(record.refreshedAt);
  if (!Number.isFinite(refreshed)) return 'its refresh time is unreadable';
  const age = now - refreshed;
  if (age > staleMs) return `not refreshed for ${formatAge(age)}`;
  // A lock from a clock ahead of this one stays live (describeLock says so): calling it
  // stale would let a prune delete what that host's running backup is storing.
  if (
    record.host === host &&
    record.pid !== process.pid &&
    !writerAlive(record.pid, Date.parse(record.time))
  ) {
    return `process ${record.pid} on this host no longer exists`;
  }
  return undefined;
}

/** Every lock record in the repository, with its staleness. Unreadable records are stale. */
export async function listLocks(
  backend: Backend,
  options: { now?: number; staleMs?: number; host?: string; signal?: AbortSignal } = {},
): Promise<LockInfo[]> {
  const now = options.now ?? Date.now();
  const locks: LockInfo[] = [];
  for await (const info of backend.list(LOCKS_PREFIX, { signal: options.signal })) {
    const id = info.key.slice(LOCKS_PREFIX.length);
    if (idOfKey(info.key) === undefined) continue;
    let record: LockRecord;
    try {
      record = parseLock(await backend.get(info.key, { signal: options.signal }));
    } catch (err) {
      if (hasCode(err, 'not-found')) continue; // released meanwhile
      if (hasCode(err, 'aborted') || hasCode(err, 'backend')) throw err;
      locks.push({ id, record: unreadable(), stale: 'the record is unreadable' });
      continue;
    }
    locks.push({ id, record, stale: staleReason(record, now, options.staleMs, options.host) });
  }
  return locks.sort((a, b) => a.record.time.localeCompare(b.record.time));
}

/**
 * What a sweep holding `ownId` must wait for: the live shared locks of others (backups,
 * syncs into the repository), counted and the oldest described; undefined when none.
 */
export async function writersInProgress(
  backend: Backend,
  ownId: string,
  options: { signal?: AbortSignal } = {},
): Promise<string | undefined> {
  const writers = (await listLocks(backend, options)).filter(
    (l) => l.id !== ownId && l.stale === undefined && !l.record.exclusive,
  );
  if (writers.length === 0) return undefined;
  return `${writers.length} backup(s) in progress (${describeLock(writers[0]!)})`;
}

/** A one-line description of a lock for messages. */
export function describeLock(lock: LockInfo, now = Date.now()): string {
  const r = lock.record;
  // An unreadable record has no time of its own (its stand-in says 1970).
  if (r.operation === '?' && Date.parse(r.time) === 0) {
    return `lock ${lock.id.slice(0, 8)} (unreadable record)${lock.stale ? `, stale: ${lock.stale}` : ''}`;
  }
  const ago = now - Date.parse(r.time);
  // Taken on a host whose clock is ahead of this one's: said so, not "0s ago".
  const age =
    ago < -60_000
      ? `${formatAge(-ago)} in the future (a clock ahead of this one)`
      : `${formatAge(ago)} ago`;
  return `${r.exclusive ? 'exclusive' : 'shared'} lock ${lock.id.slice(0, 8)} (${r.operation}) held by ${r.user}@${r.host} pid ${r.pid}, taken ${age}${lock.stale ? `, stale: ${lock.stale}` : ''}`;
}

/** A held lock: refreshed until released. */
export class Lock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;
  /** Set once a refresh found the record removed by someone else. */
  private lost = false;
  /** When the record was last written (by this process's clock). */
  private refreshedAt: number;
  private writing: Promise<unknown> = Promise.resolve();
  /** The deadline of the clean-up, once started. */
  private cleanup: AbortSignal | undefined;

  private constructor(
    readonly backend: Backend,
    readonly id: string,
    private record: LockRecord,
    private readonly now: () => number,
    refreshMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly cleanupMs: number,
    private readonly staleMs: number,
  ) {
    this.refreshedAt = Date.parse(record.refreshedAt);
    this.timer = setInterval(() => {
      this.refresh().catch(() => {}); // a failed refresh is retried at the next tick
    }, refreshMs);
    this.timer.unref();
  }

  /**
   * Takes a lock. An exclusive lock is refused (LockedError) while another live exclusive
   * lock exists; the record is written first and the check made afterwards, so two
   * processes racing for it cannot both win (at worst both back off).
   */
  static async acquire(backend: Backend, options: LockOptions): Promise<Lock> {
    const now = options.now ?? Date.now;
    const host = options.host ?? osHostname();
    const stamp = new Date(now()).toISOString();
    const record: LockRecord = {
      host,
      pid: process.pid,
      user: safeUser(),
      time: stamp,
      refreshedAt: stamp,
      exclusive: options.exclusive,
      operation: options.operation,
    };
    const id = randomId();
    await backend.put(lockKey(id), encodeLock(record), { signal: options.signal });
    const lock = new Lock(
      backend,
      id,
      record,
      now,
      options.refreshMs ?? LOCK_REFRESH_MS,
      options.signal,
      options.cleanupMs ?? LOCK_CLEANUP_MS,
      options.staleMs ?? LOCK_STALE_MS,
    );
    if (!options.exclusive) return lock;
    try {
      const others = (
        await listLocks(backend, {
          now: now(),
          host,
          ...(options.staleMs !== undefined ? { staleMs: options.staleMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        })
      ).filter((l) => l.id !== id && l.record.exclusive);
      const live = others.find((l) => l.stale === undefined);
      if (live) {
        const stale = others.filter((l) => l.stale !== undefined).length;
        throw new LockedError(
          `repository ${backend.location} is locked: ${describeLock(live, now())}. ` +
            lockedAdvice(live, host, options.staleMs ?? LOCK_STALE_MS) +
            (stale > 0
              ? `; ${stale} stale lock(s) also present ('cairn unlock' removes them)`
              : ''),
        );
      }
    } catch (err) {
      return releaseAfterFailure(lock, err);
    }
    return lock;
  }

  /**
   * Throws LockedError when this lock's record is no longer in the repository. Removed
   * while held (`unlock --remove-all` from elsewhere), it no longer kept a prune from
   * deleting what the operation stored or reuses, so a writer calls this right before
   * its commit point (the snapshot record) and commits nothing when it throws.
   */
  async confirm(signal?: AbortSignal): Promise<void> {
    await this.writing;
    // Not refreshed for the stale age (the machine slept, the storage was out of reach):
    // others have seen this lock as stale, and a prune may have swept meanwhile.
    const quiet = this.now() - this.refreshedAt;
    if (quiet > this.staleMs) {
      throw new LockedError(
        `the ${this.record.operation}'s lock ${this.id.slice(0, 8)} on ${this.backend.location} ` +
          `was not refreshed for ${formatAge(quiet)}, so others took it as stale: a prune may ` +
          'have deleted data it stored or reuses since, so nothing is committed; run it again',
      );
    }
    if (!this.lost) {
      try {
        await this.backend.stat(lockKey(this.id), signal && { signal });
        return;
      } catch (err) {
        if (!hasCode(err, 'not-found')) throw err;
      }
    }
    throw new LockedError(
      `the ${this.record.operation}'s lock ${this.id.slice(0, 8)} on ${this.backend.location} ` +
        "was removed while it ran (by 'cairn unlock --remove-all'?): a prune may have deleted " +
        'data it stored or reuses since, so nothing is committed; run it again',
    );
  }

  /** The record as last written. */
  get info(): LockRecord {
    return { ...this.record };
  }

  /** Rewrites the record with a new refresh time (not once the operation is aborted). */
  refresh(): Promise<void> {
    // Nothing to keep alive then: the release follows, and should have the deadline to itself.
    if (this.signal?.aborted) return Promise.resolve();
    return this.write({ refreshedAt: new Date(this.now()).toISOString() }, true);
  }

  /** Sets or clears the `sweeping` flag (prune). */
  setSweeping(sweeping: boolean): Promise<void> {
    return this.write({ sweeping, refreshedAt: new Date(this.now()).toISOString() });
  }

  /**
   * Rewrites the record with `change`. A refresh (`onlyIfPresent`) first makes sure the
   * record is still there: one removed meanwhile is not written again, which would hide
   * the removal from `confirm`.
   */
  private write(change: Partial<LockRecord>, onlyIfPresent = false): Promise<void> {
    const next = this.writing.then(async () => {
      if (this.released || this.lost) return;
      this.record = { ...this.record, ...change };
      if (this.record.sweeping === false) delete this.record.sweeping;
      // Part of the operation (a refresh, the sweeping flag) until it is aborted, clean-up after.
      const signal = this.cleanupSignal() ?? this.signal;
      if (onlyIfPresent) {
        try {
          await this.backend.stat(lockKey(this.id), signal && { signal });
        } catch (err) {
          if (!hasCode(err, 'not-found')) throw err;
          this.lost = true;
          return;
        }
      }
      const at = this.now();
      await this.backend.put(lockKey(this.id), encodeLock(this.record), signal && { signal });
      this.refreshedAt = at;
    });
    this.writing = next.catch(() => {});
    return next;
  }

  /**
   * Stops refreshing and deletes the record. After the operation was aborted (its
   * signal fired) or with `deadline` (it failed: see releaseAfterFailure), this and any
   * write still in flight get `cleanupMs` in all, and it rejects with an `aborted` error
   * when that passes.
   */
  async release(options: { deadline?: boolean } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const signal = this.cleanupSignal(options.deadline);
    try {
      await (signal ? beforeDeadline(this.writing, signal) : this.writing);
      this.released = true;
      await this.backend.delete(lockKey(this.id), signal && { signal });
    } catch (err) {
      if (!signal?.aborted) throw err;
      throw new AbortedError(`no answer within ${formatAge(this.cleanupMs)}`, { cause: err });
    }
  }

  /**
   * The deadline of the lock's own requests once the operation was aborted or failed
   * (`deadline`; started by the first request after that, shared by all); undefined
   * while it runs.
   */
  private cleanupSignal(deadline = false): AbortSignal | undefined {
    if (!this.cleanup && (deadline || this.signal?.aborted)) {
      this.cleanup = AbortSignal.timeout(this.cleanupMs);
    }
    return this.cleanup;
  }
}

/** `p`, or an AbortedError when `deadline` fires first. */
function beforeDeadline(p: Promise<unknown>, deadline: AbortSignal): Promise<unknown> {
  if (deadline.aborted)
    return Promise.reject(new AbortedError(undefined, { cause: deadline.reason }));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new AbortedError(undefined, { cause: deadline.reason }));
    deadline.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => deadline.removeEventListener('abort', onAbort));
  });
}

/**
 * Releases `lock` after an operation under it failed with `err`, and rethrows `err`. A
 * failure to release (most often the same cause: the repository unreachable) is not
 * what is reported: the lock goes stale and others pass over it, and the user sees what
 * went wrong in the first place rather than the lock's DELETE. `lockLeftBy(err)` then
 * tells which lock was left, and why. After an abort the release has a deadline
 * (LOCK_CLEANUP_MS): a server that stopped answering does not hold up the interruption.
 * So does it after a backend failure that its retries did not get past: that server is
 * most likely not answering the release either, whose own retries would double the wait
 * for the error.
 */
export async function releaseAfterFailure(lock: Lock | undefined, err: unknown): Promise<never> {
  try {
    await lock?.release({ deadline: hasCode(err, 'aborted') || isRetryable(err) });
  } catch (cause) {
    if (lock && typeof err === 'object' && err !== null && !locksLeft.has(err)) {
      locksLeft.set(err, { id: lock.id, record: lock.info, cause });
    }
  }
  throw err;
}

/**
 * Runs `fn` under `lock` (none: nothing to release), then releases it; when `fn` fails,
 * as `releaseAfterFailure` does, so the error reported is `fn`'s.
 */
export async function underLock<T>(lock: Lock | undefined, fn: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    return releaseAfterFailure(lock, err);
  }
  await lock?.release();
  return result;
}

/**
 * Waits while a live lock has its `sweeping` flag set (a prune deleting blobs), polling
 * every `pollMs`. Backups call this after taking their shared lock: from then on a
 * prune that starts sweeping sees their lock and postpones.
 */
export async function waitForSweep(
  backend: Backend,
  options: {
    pollMs?: number;
    staleMs?: number;
    signal?: AbortSignal;
    onWait?: (l: LockInfo) => void;
  } = {},
): Promise<void> {
  for (;;) {
    const sweeping = (
      await listLocks(backend, {
        ...(options.staleMs !== undefined ? { staleMs: options.staleMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      })
    ).find((l) => l.stale === undefined && l.record.sweeping === true);
    if (!sweeping) return;
    options.onWait?.(sweeping);
    await sleep(options.pollMs ?? 1000, options.signal);
  }
}

/**
 * The advice of a LockedError about the live lock `live`: a process of this host that
 * still runs is waited for, never unlocked; one elsewhere may have died with its machine.
 */
function lockedAdvice(live: LockInfo, host: string, staleMs: number): string {
  if (runsHere(live, host)) return 'Wait for it to finish';
  return (
    `It is ignored once not refreshed for ${formatAge(staleMs)}; to go on sooner, make sure ` +
    "no cairn process uses the repository any more, then run 'cairn unlock --remove-all'"
  );
}

/** True when `lock` was taken on `host` by another process that is still running. */
function runsHere(lock: LockInfo, host: string): boolean {
  const r = lock.record;
  return r.host === host && r.pid !== process.pid && writerAlive(r.pid, Date.parse(r.time));
}

/**
 * Removes stale locks, or with `all` every lock but those of processes still running on
 * this host (`kept`): removing one of those would let a prune delete what that backup is
 * storing, and they go away by themselves.
 */
export async function removeLocks(
  backend: Backend,
  options: { all?: boolean; staleMs?: number; signal?: AbortSignal; host?: string } = {},
): Promise<{ removed: LockInfo[]; kept: LockInfo[] }> {
  const host = options.host ?? osHostname();
  const locks = await listLocks(backend, {
    host,
    ...(options.staleMs !== undefined ? { staleMs: options.staleMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const removed: LockInfo[] = [];
  const kept: LockInfo[] = [];
  for (const l of locks) {
    if (l.stale !== undefined || (options.all && !runsHere(l, host))) removed.push(l);
    else kept.push(l);
  }
  for (const l of removed) await backend.delete(lockKey(l.id), { signal: options.signal });
  return { removed, kept };
}

function encodeLock(r: LockRecord): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(r)}\n`);
}

function parseLock(bytes: Uint8Array): LockRecord {
  const r = JSON.parse(new TextDecoder().decode(bytes)) as LockRecord;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.host !== 'string' ||
    typeof r.pid !== 'number' ||
    typeof r.time !== 'string' ||
    typeof r.refreshedAt !== 'string' ||
    typeof r.exclusive !== 'boolean' ||
    typeof r.operation !== 'string'
  ) {
    throw new SyntaxError('not a lock record');
  }
  return r;
}

function unreadable(): LockRecord {
  const epoch = new Date(0).toISOString();
  return {
    host: '?',
    pid: 0,
    user: '?',
    time: epoch,
    refreshedAt: epoch,
    exclusive: false,
    operation: '?',
  };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

/** "3m12s", "2h5m", "4d3h" */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}
