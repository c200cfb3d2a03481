import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GetOptions, ObjectInfo } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LimitBackend } from '../../src/backends/limit.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { sleep } from '../../src/core/abort.js';
import { UsageError } from '../../src/core/errors.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';

describeBackendConformance('LimitBackend(MemoryBackend)', async () => ({
  backend: new LimitBackend(new MemoryBackend(), {
    concurrency: 2,
    tps: 5000,
    bytesPerSecond: 1024 * 1024 * 1024,
  }),
}));

/** Delays every get and stat by `delayMs` and records the most calls seen at once. */
class Probe extends ForwardingBackend {
  running = 0;
  peak = 0;
  constructor(private readonly delayMs: number) {
    super(new MemoryBackend());
  }
  private async slow<T>(call: () => Promise<T>): Promise<T> {
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      await sleep(this.delayMs);
      return await call();
    } finally {
      this.running--;
    }
  }
  override get(key: string, options?: GetOptions): Promise<Uint8Array> {
    return this.slow(() => this.inner.get(key, options));
  }
  override stat(key: string): Promise<ObjectInfo> {
    return this.slow(() => this.inner.stat(key));
  }
}

describe('LimitBackend', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('caps the calls in flight', async () => {
    const probe = new Probe(10);
    await probe.put('k', new Uint8Array(1));
    const limited = new LimitBackend(probe, { concurrency: 3 });
    const calls = Array.from({ length: 20 }, () => limited.stat('k'));
    await sleep(5);
    expect(limited.inFlight).toBe(3);
    await Promise.all(calls);
    expect(probe.peak).toBe(3);
    expect(limited.inFlight).toBe(0);
  });

  it('lets a caller read objects while iterating a listing', async () => {
    const limited = new LimitBackend(new MemoryBackend(), { concurrency: 1 });
    for (const k of ['p/a', 'p/b', 'p/c']) await limited.put(k, new Uint8Array([k.length]));
    const read: string[] = [];
    for await (const { key } of limited.list('p/')) {
      await limited.get(key); // would deadlock if the listing held the only slot
      read.push(key);
    }
    expect(read.sort()).toEqual(['p/a', 'p/b', 'p/c']);
  });

  it('limits requests per second after a one-second burst', async () => {
    const limited = new LimitBackend(new MemoryBackend(), { concurrency: 16, tps: 100 });
    await limited.put('k', new Uint8Array(1)); // uses one token of the burst
    const started = performance.now();
    await Promise.all(Array.from({ length: 149 }, () => limited.stat('k')));
    const elapsed = performance.now() - started;
    // 100 tokens of burst, the other 50 calls at 100/s: at least 0.5 s.
    expect(elapsed).toBeGreaterThanOrEqual(480);
    expect(elapsed).toBeLessThan(3000);
  });

  it('limits bandwidth of puts and gets', async () => {
    const MiB = 1024 * 1024;
    const limited = new LimitBackend(new MemoryBackend(), {
      concurrency: 4,
      bytesPerSecond: MiB,
    });
    const started = performance.now();
    // 2 MiB of puts: the first MiB is the burst, the second takes a second.
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => limited.put(`k${i}`, new Uint8Array(MiB / 4))),
    );
    const putTime = performance.now() - started;
    expect(putTime).toBeGreaterThanOrEqual(950);
    expect(putTime).toBeLessThan(3000);
    // The bucket is empty now: reading 256 KiB takes about a quarter of a second.
    const t = performance.now();
    await limited.get('k0');
    expect(performance.now() - t).toBeGreaterThanOrEqual(230);
  });

  it('drops a queued call whose signal fires, and keeps the slot count right', async () => {
    const probe = new Probe(50);
    await probe.put('k', new Uint8Array(1));
    const limited = new LimitBackend(probe, { concurrency: 1 });
    const first = limited.get('k');
    const controller = new AbortController();
    const queued = limited.get('k', { signal: controller.signal });
    controller.abort();
    await expect(queued).rejects.toMatchObject({ code: 'aborted' });
    await first;
    expect(limited.inFlight).toBe(0);
    // Both following calls run, one at a time: the abandoned slot was given back.
    await Promise.all([limited.get('k'), limited.get('k')]);
    expect(probe.peak).toBe(1);
  });

  it('rejects invalid options with usage', () => {
    const inner = new MemoryBackend();
    expect(() => new LimitBackend(inner, { concurrency: 0 })).toThrow(UsageError);
    expect(() => new LimitBackend(inner, { concurrency: 1, tps: 0 })).toThrow(UsageError);
    expect(() => new LimitBackend(inner, { concurrency: 1, bytesPerSecond: -5 })).toThrow(
      UsageError,
    );
  });
});
