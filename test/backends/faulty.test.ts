import { describe, expect, it } from 'vitest';
import { FaultyBackend } from '../../src/backends/faulty.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { seededRandom } from '../../src/backends/prng.js';
import { BackendError, UsageError } from '../../src/core/errors.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';

describeBackendConformance('FaultyBackend(MemoryBackend) at rate 0', async () => ({
  backend: new FaultyBackend(new MemoryBackend(), { failRate: 0 }),
}));

/** Which of `n` stat calls fail, as a string of '.' (ok), 'b' (before) and 'a' (after). */
async function pattern(faulty: FaultyBackend, n: number): Promise<string> {
  await faulty.inner.put('k', new Uint8Array(1));
  let out = '';
  for (let i = 0; i < n; i++) {
    const before = faulty.faults;
    const err = await faulty.stat('k').then(
      () => undefined,
      (e: unknown) => e,
    );
    if (err === undefined) out += '.';
    else out += (err as Error).message.includes('before') ? 'b' : 'a';
    expect(faulty.faults - before).toBe(err === undefined ? 0 : 1);
  }
  return out;
}

describe('FaultyBackend', () => {
  it('fails the same calls for the same seed, and others for another seed', async () => {
    const make = (seed: number) => new FaultyBackend(new MemoryBackend(), { failRate: 0.3, seed });
    const first = await pattern(make(42), 200);
    expect(await pattern(make(42), 200)).toBe(first);
    expect(await pattern(make(43), 200)).not.toBe(first);
    const failures = first.replaceAll('.', '').length;
    expect(failures).toBeGreaterThan(35);
    expect(failures).toBeLessThan(85);
    expect(first).toContain('a');
    expect(first).toContain('b');
  });

  it('throws retryable BackendErrors, before or after the inner call', async () => {
    const inner = new MemoryBackend();
    const faulty = new FaultyBackend(inner, { failRate: 0 });
    faulty.failNext(1, 'before');
    const before = await faulty.put('x', new Uint8Array(1)).catch((e: unknown) => e);
    expect(before).toBeInstanceOf(BackendError);
    expect(before).toMatchObject({ retryable: true });
    expect(inner.size).toBe(0);
    faulty.failNext(1, 'after');
    await expect(faulty.put('x', new Uint8Array(1))).rejects.toThrow('injected fault after put x');
    expect(inner.size).toBe(1); // the put happened; only its response was lost
    faulty.failNext(1, 'after');
    await expect(faulty.delete('x')).rejects.toBeInstanceOf(BackendError);
    expect(inner.size).toBe(0);
  });

  it('only fails the chosen verbs', async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { failRate: 1, verbs: ['get'] });
    expect(await faulty.put('k', new Uint8Array(1))).toBe(true);
    expect((await faulty.stat('k')).size).toBe(1);
    await expect(faulty.get('k')).rejects.toBeInstanceOf(BackendError);
  });

  it('breaks a listing off partway for an after fault', async () => {
    const inner = new MemoryBackend();
    for (let i = 0; i < 40; i++) await inner.put(`p/${i}`, new Uint8Array(1));
    const faulty = new FaultyBackend(inner, { failRate: 0 });
    faulty.failNext(1, 'after');
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const { key } of faulty.list('p/')) got.push(key);
      })(),
    ).rejects.toBeInstanceOf(BackendError);
    expect(got.length).toBeLessThan(16);
    // Even a short listing loses its end.
    faulty.failNext(1, 'after');
    await expect(
      (async () => {
        for await (const _ of faulty.list('p/none')) {
          // empty
        }
      })(),
    ).rejects.toBeInstanceOf(BackendError);
  });

  it('rejects rates outside [0, 1]', () => {
    expect(() => new FaultyBackend(new MemoryBackend(), { failRate: 1.5 })).toThrow(UsageError);
    expect(() => new FaultyBackend(new MemoryBackend(), { failRate: 0.5, afterRate: -1 })).toThrow(
      UsageError,
    );
  });
});

describe('seededRandom', () => {
  it('is reproducible, in [0, 1), and roughly uniform', () => {
    const a = seededRandom(1);
    const b = seededRandom(1);
    const values = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(values);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
    expect(seededRandom(0)()).not.toBe(seededRandom(1)());
  });
});
