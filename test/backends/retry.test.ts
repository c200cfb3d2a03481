import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CountingBackend } from '../../src/backends/counting.js';
import { FaultyBackend } from '../../src/backends/faulty.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RetryBackend, type RetryInfo } from '../../src/backends/retry.js';
import { AbortedError, BackendError, UsageError } from '../../src/core/errors.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';

const fast = { baseDelayMs: 1, maxDelayMs: 5 };

describeBackendConformance('RetryBackend(MemoryBackend)', async () => ({
  backend: new RetryBackend(new MemoryBackend()),
}));

describeBackendConformance('RetryBackend(FaultyBackend(MemoryBackend))', async () => ({
  backend: new RetryBackend(new FaultyBackend(new MemoryBackend(), { failRate: 0.3, seed: 7 }), {
    retries: 15,
    ...fast,
  }),
}));

describeBackendConformance('RetryBackend(FaultyBackend(LocalBackend))', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'cairn-retry-'));
  const faulty = new FaultyBackend(new LocalBackend(root, { fsync: false }), {
    failRate: 0.2,
    seed: 3,
  });
  return {
    backend: new RetryBackend(faulty, { retries: 15, ...fast }),
    cleanup: () => fsp.rm(root, { recursive: true, force: true }),
  };
});

/** A backend whose every call throws `error`. */
class Failing extends ForwardingBackend {
  calls = 0;
  constructor(private readonly error: Error) {
    super(new MemoryBackend());
  }
  override async get(): Promise<Uint8Array> {
    this.calls++;
    throw this.error;
  }
}

describe('RetryBackend', () => {
  it('gives up after the configured number of retries with the last error', async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { failRate: 1, afterRate: 0 });
    const retries: RetryInfo[] = [];
    const backend = new RetryBackend(faulty, {
      retries: 3,
      ...fast,
      onRetry: (info) => retries.push(info),
    });
    const err = await backend.put('k', new Uint8Array(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    // The last failure, saying that it was retried (it reads "temporary" otherwise).
    expect((err as Error).message).toBe(
      'injected fault before put k in memory: (gave up after 3 retries)',
    );
    expect(faulty.faults).toBe(4);
    expect(retries.map((r) => [r.verb, r.key, r.attempt])).toEqual([
      ['put', 'k', 1],
      ['put', 'k', 2],
      ['put', 'k', 3],
    ]);
    expect(retries.every((r) => r.error instanceof BackendError)).toBe(true);
  });

  it('succeeds when a retry gets through', async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { failRate: 0 });
    const backend = new RetryBackend(faulty, { retries: 2, ...fast });
    faulty.failNext(2);
    expect(await backend.put('k', new Uint8Array([5]))).toBe(true);
    expect(await backend.get('k')).toEqual(new Uint8Array([5]));
    expect(faulty.faults).toBe(2);
  });

  it.each([
    ['not-found', undefined],
    ['a non-retryable backend error', new BackendError('denied', { retryable: false })],
    ['a usage error', new UsageError('bad')],
    ['an aborted error', new AbortedError()],
    ['a plain Error', new Error('bug')],
  ])('does not retry %s', async (_label, error) => {
    if (error === undefined) {
      const counting = new CountingBackend(new MemoryBackend());
      const backend = new RetryBackend(counting, fast);
      await expect(backend.get('missing')).rejects.toMatchObject({ code: 'not-found' });
      await expect(backend.stat('missing')).rejects.toMatchObject({ code: 'not-found' });
      expect([counting.counts.get, counting.counts.stat]).toEqual([1, 1]);
      return;
    }
    const failing = new Failing(error);
    await expect(new RetryBackend(failing, fast).get('k')).rejects.toBe(error);
    expect(failing.calls).toBe(1);
  });

  it('backs off exponentially with full jitter, capped', () => {
    const top = new RetryBackend(new MemoryBackend(), {
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 0.9999,
    });
    expect([0, 1, 2, 3, 4, 10].map((a) => top.delayFor(a))).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = new RetryBackend(new MemoryBackend(), { random: () => 0 });
    expect(bottom.delayFor(3)).toBe(0);
  });

  it('stops waiting when the signal fires during a backoff', async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { failRate: 1, afterRate: 0 });
    const backend = new RetryBackend(faulty, { baseDelayMs: 60_000, maxDelayMs: 60_000 });
    const controller = new AbortController();
    const started = Date.now();
    const call = backend.get('k', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(call).rejects.toMatchObject({ code: 'aborted' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(faulty.faults).toBe(1);
  });

  it('reports true for an ifNotExists put whose successful response was lost', async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { failRate: 0 });
    const backend = new RetryBackend(faulty, fast);
    faulty.failNext(1, 'after');
    expect(await backend.put('lock', new Uint8Array([1, 2]), { ifNotExists: true })).toBe(true);
    expect(faulty.faults).toBe(1);
    // Someone else's object is still reported as someone else's.
    faulty.failNext(1, 'before');
    expect(await backend.put('lock', new Uint8Array([9]), { ifNotExists: true })).toBe(false);
    expect(await backend.get('lock')).toEqual(new Uint8Array([1, 2]));
  });

  it('restarts a failed listing without yielding a key twice', async () => {
    const inner = new MemoryBackend();
    const keys = Array.from({ length: 50 }, (_, i) => `p/k${i}`);
    for (const k of keys) await inner.put(k, new Uint8Array(1));
    const faulty = new FaultyBackend(inner, { failRate: 0 });
    // Three listings in a row break off after a few entries.
    faulty.failNext(3, 'after');
    const backend = new RetryBackend(faulty, { retries: 3, ...fast });
    const listed: string[] = [];
    for await (const { key } of backend.list('p/')) listed.push(key);
    expect(faulty.faults).toBe(3);
    expect(listed.sort()).toEqual([...keys].sort());
  });

  it('gives up on a listing that keeps failing without progress', async () => {
    const inner = new MemoryBackend();
    await inner.put('p/a', new Uint8Array(1));
    const faulty = new FaultyBackend(inner, { failRate: 1, afterRate: 0, verbs: ['list'] });
    const backend = new RetryBackend(faulty, { retries: 2, ...fast });
    await expect(
      (async () => {
        for await (const _ of backend.list('p/')) {
          // nothing arrives
        }
      })(),
    ).rejects.toBeInstanceOf(BackendError);
    expect(faulty.faults).toBe(3);
  });

  it('tells onRetry the retry budget: attempt N of `retries`', async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { failRate: 0 });
    const retries: RetryInfo[] = [];
    const backend = new RetryBackend(faulty, { ...fast, onRetry: (info) => retries.push(info) });
    faulty.failNext(2);
    await backend.put('k', new Uint8Array([1]));
    expect(retries.map((r) => `${r.verb} ${r.key}: ${r.attempt} of ${r.retries}`)).toEqual([
      'put k: 1 of 5',
      'put k: 2 of 5',
    ]);
  });

  it('retries nothing once `stopRetrying` has fired: clean-up after Ctrl-C gets one attempt', async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { failRate: 0 });
    const interrupted = new AbortController();
    const retries: RetryInfo[] = [];
    const backend = new RetryBackend(faulty, {
      ...fast,
      stopRetrying: interrupted.signal,
      onRetry: (info) => retries.push(info),
    });
    faulty.failNext(1);
    await backend.put('locks/a', new Uint8Array([1])); // retried while running
    expect(retries).toHaveLength(1);
    interrupted.abort();
    faulty.failNext(1);
    // The call has no signal of its own (or a deadline): it is made, once.
    await expect(backend.delete('locks/a')).rejects.toMatchObject({
      code: 'backend',
      retryable: true,
    });
    faulty.failNext(1);
    await expect(
      (async () => {
        for await (const _ of backend.list('locks/')) {
          // nothing
        }
      })(),
    ).rejects.toMatchObject({ retryable: true });
    expect(retries).toHaveLength(1);
    expect(faulty.faults).toBe(3);
    expect(await backend.get('locks/a')).toEqual(new Uint8Array([1]));
  });

  it('rejects invalid options with usage', () => {
    expect(() => new RetryBackend(new MemoryBackend(), { retries: -1 })).toThrow(UsageError);
    expect(() => new RetryBackend(new MemoryBackend(), { retries: 1.5 })).toThrow(UsageError);
    expect(() => new RetryBackend(new MemoryBackend(), { baseDelayMs: -1 })).toThrow(UsageError);
  });
});
