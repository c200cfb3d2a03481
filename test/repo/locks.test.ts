/** Locks: shared vs exclusive, stale detection and its message, unlock, sweep waiting. */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { LockedError } from '../../src/core/errors.js';
import {
  describeLock,
  Lock,
  type LockRecord,
  listLocks,
  lockKey,
  removeLocks,
  staleReason,
  waitForSweep,
} from '../../src/repo/locks.js';

const enc = (r: LockRecord) => new TextEncoder().encode(JSON.stringify(r));

function record(o: Partial<LockRecord> = {}): LockRecord {
  const now = new Date().toISOString();
  return {
    host: 'elsewhere',
    pid: 4242,
    user: 'ann',
    time: now,
    refreshedAt: now,
    exclusive: true,
    operation: 'prune',
    ...o,
  };
}

describe('locks', () => {
  it('shared locks coexist with each other and with an exclusive one', async () => {
    const b = new MemoryBackend();
    const s1 = await Lock.acquire(b, { exclusive: false, operation: 'backup' });
    const s2 = await Lock.acquire(b, { exclusive: false, operation: 'backup' });
    const x = await Lock.acquire(b, { exclusive: true, operation: 'prune' });
    const s3 = await Lock.acquire(b, { exclusive: false, operation: 'backup' });
    expect((await listLocks(b)).map((l) => l.record.operation).sort()).toEqual([
      'backup',
      'backup',
      'backup',
      'prune',
    ]);
    for (const l of [s1, s2, x, s3]) await l.release();
    expect(await listLocks(b)).toEqual([]);
  });

  it('a second exclusive lock is refused with a message naming the holder', async () => {
    const b = new MemoryBackend();
    const x = await Lock.acquire(b, { exclusive: true, operation: 'prune' });
    const err = await Lock.acquire(b, { exclusive: true, operation: 'forget' }).catch((e) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect(err.code).toBe('locked');
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.message).toContain('(prune)');
    expect(err.message).toContain('cairn unlock');
    // the refused attempt left no record behind
    expect((await listLocks(b)).map((l) => l.id)).toEqual([x.id]);
    await x.release();
    const y = await Lock.acquire(b, { exclusive: true, operation: 'forget' });
    await y.release();
  });

  it('ignores stale locks: not refreshed, or a dead process on this host', async () => {
    const b = new MemoryBackend();
    const old = new Date(Date.now() - 2 * 3600_000).toISOString();
    await b.put(lockKey('a'.repeat(64)), enc(record({ time: old, refreshedAt: old })));
    // a pid that cannot exist on this host
    await b.put(lockKey('b'.repeat(64)), enc(record({ host: 'me', pid: 2 ** 22 + 12345 })));
    const locks = await listLocks(b, { host: 'me' });
    expect(locks.map((l) => l.stale)).toEqual([
      'not refreshed for 2h0m',
      `process ${2 ** 22 + 12345} on this host no longer exists`,
    ]);
    const x = await Lock.acquire(b, { exclusive: true, operation: 'prune', host: 'me' });
    await x.release();
    expect(staleReason(record(), Date.now())).toBeUndefined();
  });

  it('a live foreign lock blocks, and says how old it is; unlock removes only stale ones', async () => {
    const b = new MemoryBackend();
    const tenMin = new Date(Date.now() - 10 * 60_000).toISOString();
    await b.put(lockKey('c'.repeat(64)), enc(record({ time: tenMin })));
    const old = new Date(Date.now() - 3 * 3600_000).toISOString();
    await b.put(lockKey('d'.repeat(64)), enc(record({ time: old, refreshedAt: old })));
    const err = await Lock.acquire(b, { exclusive: true, operation: 'prune' }).catch((e) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect(err.message).toMatch(/ann@elsewhere pid 4242, taken 10m\d*s? ago/);
    expect(err.message).toContain('1 stale lock(s) also present');
    const { removed } = await removeLocks(b);
    expect(removed.map((l) => l.id)).toEqual(['d'.repeat(64)]);
    expect((await listLocks(b)).map((l) => l.id)).toEqual(['c'.repeat(64)]);
    await removeLocks(b, { all: true });
    expect(await listLocks(b)).toEqual([]);
  });

  it('a lock removed while held is not written back by its refresh, and confirm says so', async () => {
    const b = new MemoryBackend();
    const kept = await Lock.acquire(b, { exclusive: false, operation: 'backup' });
    await kept.refresh();
    await expect(kept.confirm()).resolves.toBeUndefined();
    const lost = await Lock.acquire(b, { exclusive: false, operation: 'backup' });
    await b.delete(lockKey(lost.id));
    await lost.refresh();
    expect((await listLocks(b)).map((l) => l.id)).toEqual([kept.id]);
    const err = await lost.confirm().catch((e) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect(err.message).toMatch(/the backup's lock \w{8} on .* was removed while it ran/);
    await lost.release();
    await kept.release();
  });

  it('a lock from a clock ahead stays live (a running backup there), and says so', () => {
    const now = Date.now();
    const ahead = (ms: number) => new Date(now + ms).toISOString();
    const twoHours = record({ time: ahead(2 * 3600_000), refreshedAt: ahead(2 * 3600_000) });
    expect(staleReason(twoHours, now)).toBeUndefined();
    const info = { id: 'a'.repeat(64), record: twoHours, stale: undefined };
    expect(describeLock(info, now)).toContain(
      'taken 2h0m in the future (a clock ahead of this one)',
    );
  });

  it('a pid of this host that started after the lock was taken is not its holder', () => {
    // The test runner's parent runs, but started long after a lock of a day ago.
    const dayAgo = new Date(Date.now() - 86400_000).toISOString();
    const reused = record({
      host: 'me',
      pid: process.ppid,
      time: dayAgo,
      refreshedAt: new Date().toISOString(),
    });
    expect(staleReason(reused, Date.now(), undefined, 'me')).toBe(
      `process ${process.ppid} on this host no longer exists`,
    );
    const ours = record({ host: 'me', pid: process.ppid });
    expect(staleReason(ours, Date.now(), undefined, 'me')).toBeUndefined();
  });

  it('confirm refuses a lock not refreshed for the stale age: others took it as stale', async () => {
    const b = new MemoryBackend();
    let t = Date.now();
    const lock = await Lock.acquire(b, {
      exclusive: false,
      operation: 'backup',
      now: () => t,
      staleMs: 60_000,
      refreshMs: 3600_000,
    });
    await expect(lock.confirm()).resolves.toBeUndefined();
    t += 61_000; // the machine slept through its refreshes
    await expect(lock.confirm()).rejects.toThrow(
      /was not refreshed for 1m1s, so others took it as stale/,
    );
    await lock.refresh();
    await expect(lock.confirm()).resolves.toBeUndefined();
    await lock.release();
  });

  it('an unreadable lock record is stale and described as unreadable, with no made-up age', async () => {
    const b = new MemoryBackend();
    await b.put(lockKey('e'.repeat(64)), new TextEncoder().encode('garbage'));
    const [lock] = await listLocks(b);
    expect(lock!.stale).toBe('the record is unreadable');
    expect(describeLock(lock!)).toBe(
      'lock eeeeeeee (unreadable record), stale: the record is unreadable',
    );
  });

  it('a failure under a lock is what is reported, not the lock release that fails after it', async () => {
    const { withSharedLock } = await import('../../src/ops/lock-guard.js');
    const { initRepository } = await import('../../src/repo/repository.js');
    const { ForwardingBackend } = await import('../../src/backends/forwarding.js');
    class Unreachable extends ForwardingBackend {
      down = false;
      override async delete(key: string): Promise<void> {
        if (this.down) throw new Error(`DELETE ${key}: ECONNREFUSED`);
        return this.inner.delete(key);
      }
    }
    const backend = new Unreachable(new MemoryBackend());
    const repo = await initRepository(backend, {});
    const failing = withSharedLock(repo, 'backup', async () => {
      backend.down = true; // the server went away in the middle of the backup
      throw new Error('PUT data/ab/...: ECONNREFUSED');
    });
    await expect(failing).rejects.toThrow('PUT data/ab/...: ECONNREFUSED');
    // Success still releases, and a failing release is then the error.
    backend.down = false;
    await expect(withSharedLock(repo, 'backup', async () => 7)).resolves.toBe(7);
  });

  it('after an abort, clean-up against a server that stopped answering has a deadline', async () => {
    const { withSharedLock } = await import('../../src/ops/lock-guard.js');
    const { initRepository } = await import('../../src/repo/repository.js');
    const { ForwardingBackend } = await import('../../src/backends/forwarding.js');
    const { AbortedError } = await import('../../src/core/errors.js');
    const { lockLeftBy } = await import('../../src/repo/locks.js');
    /** Writes and deletes never answer; a fired signal ends them, as the real backends do. */
    class Stalled extends ForwardingBackend {
      stalled = false;
      calls: string[] = [];
      private hang(what: string, signal: AbortSignal | undefined): Promise<never> {
        this.calls.push(`${what} ${signal ? 'with' : 'without'} a signal`);
        if (signal?.aborted) return Promise.reject(new AbortedError());
        return new Promise((_, reject) =>
          signal?.addEventListener('abort', () => reject(new AbortedError()), { once: true }),
        );
      }
      override put(key: string, data: Uint8Array, o?: { signal?: AbortSignal }) {
        return this.stalled ? this.hang(`PUT ${key}`, o?.signal) : this.inner.put(key, data, o);
      }
      override delete(key: string, o?: { signal?: AbortSignal }) {
        return this.stalled ? this.hang(`DELETE ${key}`, o?.signal) : this.inner.delete(key, o);
      }
    }
    const backend = new Stalled(new MemoryBackend());
    const repo = await initRepository(backend, {});
    const controller = new AbortController();
    const started = Date.now();
    const err = await withSharedLock(
      repo,
      'backup',
      async () => {
        backend.stalled = true; // kill -STOP of the server, then Ctrl-C
        controller.abort();
        throw new AbortedError();
      },
      { signal: controller.signal },
    ).catch((e: unknown) => e);
    // Given up after the 5 s deadline; before, the DELETE had no signal and hung forever.
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(err).toBeInstanceOf(AbortedError);
    expect(backend.calls).toEqual([expect.stringMatching(/^DELETE locks\/\w+ with a signal$/)]);
    const left = lockLeftBy(err);
    expect(left?.record.operation).toBe('backup');
    expect(String(left?.cause)).toContain('no answer within 5s');
    expect((await listLocks(backend.inner)).map((l) => l.id)).toEqual([left?.id]);
  });

  it('a flag write in flight is aborted with the operation; the ones after share the deadline', async () => {
    const { ForwardingBackend } = await import('../../src/backends/forwarding.js');
    const { AbortedError } = await import('../../src/core/errors.js');
    const { releaseAfterFailure, lockLeftBy } = await import('../../src/repo/locks.js');
    class Stalled extends ForwardingBackend {
      stalled = false;
      override put(key: string, data: Uint8Array, o?: { signal?: AbortSignal }) {
        if (!this.stalled) return this.inner.put(key, data, o);
        if (o?.signal?.aborted) return Promise.reject(new AbortedError());
        return new Promise<boolean>((_, reject) =>
          o?.signal?.addEventListener('abort', () => reject(new AbortedError()), { once: true }),
        );
      }
    }
    const backend = new Stalled(new MemoryBackend());
    const controller = new AbortController();
    const lock = await Lock.acquire(backend, {
      exclusive: true,
      operation: 'prune',
      signal: controller.signal,
      cleanupMs: 300,
    });
    backend.stalled = true;
    const sweeping = lock.setSweeping(true); // in flight when Ctrl-C comes
    await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(sweeping).rejects.toMatchObject({ code: 'aborted' });
    // prune's `finally`: clearing the flag, then the release, all within one deadline.
    const started = Date.now();
    await expect(lock.setSweeping(false)).rejects.toMatchObject({ code: 'aborted' });
    const err = new AbortedError();
    await expect(releaseAfterFailure(lock, err)).rejects.toBe(err);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(lockLeftBy(err)?.id).toBe(lock.id);
  });

  it('after a backend failure its retries did not get past, the release has the deadline too', async () => {
    const { ForwardingBackend } = await import('../../src/backends/forwarding.js');
    const { AbortedError, BackendError } = await import('../../src/core/errors.js');
    const { releaseAfterFailure, lockLeftBy } = await import('../../src/repo/locks.js');
    /** Deletes never answer; a fired signal ends them, as the real backends do. */
    class Unanswered extends ForwardingBackend {
      signals: boolean[] = [];
      override delete(_key: string, o?: { signal?: AbortSignal }) {
        this.signals.push(o?.signal !== undefined);
        return new Promise<void>((_, reject) =>
          o?.signal?.addEventListener('abort', () => reject(new AbortedError()), { once: true }),
        );
      }
    }
    const backend = new Unanswered(new MemoryBackend());
    const lock = await Lock.acquire(backend, {
      exclusive: false,
      operation: 'backup',
      cleanupMs: 300,
    });
    const err = new BackendError('PUT data/ab/...: ECONNREFUSED', { retryable: true });
    const started = Date.now();
    await expect(releaseAfterFailure(lock, err)).rejects.toBe(err);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(backend.signals).toEqual([true]);
    expect(String(lockLeftBy(err)?.cause)).toContain('no answer within');

    // Any other failure (the source, a refused request) leaves the backend its retries.
    const other = await Lock.acquire(backend, { exclusive: false, operation: 'backup' });
    const refused = new BackendError('PUT data/ab/...: 403 Forbidden', { retryable: false });
    void releaseAfterFailure(other, refused).catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    expect(backend.signals).toEqual([true, false]);
  });

  it('refreshes a held lock on a timer', async () => {
    const b = new MemoryBackend();
    const l = await Lock.acquire(b, { exclusive: false, operation: 'backup', refreshMs: 20 });
    const first = l.info.refreshedAt;
    await new Promise((r) => setTimeout(r, 80));
    const [stored] = await listLocks(b);
    expect(stored!.record.refreshedAt > first).toBe(true);
    await l.release();
  });

  it('waitForSweep waits while a live lock is sweeping', async () => {
    const b = new MemoryBackend();
    const x = await Lock.acquire(b, { exclusive: true, operation: 'prune' });
    await x.setSweeping(true);
    let waited = 0;
    let done = false;
    const wait = waitForSweep(b, { pollMs: 10, onWait: () => waited++ }).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 60));
    expect(done).toBe(false);
    await x.setSweeping(false);
    await wait;
    expect(waited).toBeGreaterThan(0);
    await x.release();
  });
});
