/**
 * Opening a repository reads its config, prune epoch and key slots with the caller's
 * signal: Ctrl-C while a stalled server holds one of those reads stops the open at
 * once (before, each read waited out its own timeout).
 */
import { describe, expect, it } from 'vitest';
import type { CallOptions, GetOptions, ObjectInfo } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';

/** Records the signal of every read, and stalls `config` until its signal fires. */
class Recording extends ForwardingBackend {
  readonly seen: Array<[string, AbortSignal | undefined]> = [];
  stallConfig = false;
  override async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    this.seen.push([key, options?.signal]);
    if (this.stallConfig && key === 'config') {
      await new Promise((_, reject) =>
        options?.signal?.addEventListener('abort', () => reject(options.signal!.reason)),
      );
    }
    return this.inner.get(key, options);
  }
  override list(prefix: string, options?: CallOptions): AsyncIterable<ObjectInfo> {
    this.seen.push([`${prefix}*`, options?.signal]);
    return this.inner.list(prefix, options);
  }
}

describe('opening a repository', () => {
  it('passes its signal to every read of opening', async () => {
    const memory = new MemoryBackend();
    await initRepository(memory, { encryption: { password: 'pw', kdfLogN: 10 } });
    const recording = new Recording(memory);
    const signal = new AbortController().signal;
    const repo = await openRepositoryIn(recording, { password: 'pw', signal });
    await repo.close();
    const keys = recording.seen.map(([key]) => key);
    expect(keys).toContain('config');
    expect(keys.some((k) => k.startsWith('keys/'))).toBe(true);
    for (const [key, s] of recording.seen) expect(s, key).toBe(signal);
  });

  it('stops at once when its signal fires during a stalled read', async () => {
    const memory = new MemoryBackend();
    await initRepository(memory, {});
    const recording = new Recording(memory);
    recording.stallConfig = true;
    const controller = new AbortController();
    const opening = openRepositoryIn(recording, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(opening).rejects.toBeDefined();
    expect(recording.seen.map(([key]) => key)).toEqual(['config']);
  });
});
