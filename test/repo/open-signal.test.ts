/**
 * Opening a repository reads its config, prune epoch and key slots with the caller's
 * signal: Ctrl-C while a stalled server holds one of those reads stops the open at
 * once (before, each read waited out its own timeout).
 */
import { describe, expect, it } from 'vitest';
import type { CallOptions, GetOptions, ObjectInfo } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { BackendError } from '../../src/core/errors.js';
import { addKeySlot } from '../../src/repo/key-slots.js';
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

describe('a key slot the storage will not give', () => {
  it('does not stop a password held by another slot; stops the open when none opens', async () => {
    const memory = new MemoryBackend();
    const repo = await initRepository(memory, { encryption: { password: 'pw1', kdfLogN: 10 } });
    const second = await addKeySlot(memory, repo.config.id, repo.keys!, 'pw2', { logN: 10 });
    await repo.close();
    /** Every read of the second slot is refused, as a 403 on that one object would be. */
    class Refusing extends ForwardingBackend {
      override get(key: string, options?: GetOptions): Promise<Uint8Array> {
        if (key === `keys/${second}`)
          return Promise.reject(
            new BackendError(`GET ${key}: 403 AccessDenied`, { retryable: false }),
          );
        return this.inner.get(key, options);
      }
    }
    const notices: unknown[] = [];
    // pw1's slot opens; the refused one is not damage (nothing to `key remove`).
    const opened = await openRepositoryIn(new Refusing(memory), {
      password: 'pw1',
      onNotice: (n) => notices.push(n),
    });
    await opened.close();
    expect(notices).toEqual([]);
    // pw2's slot is the refused one: the storage's failure, not "wrong password".
    await expect(openRepositoryIn(new Refusing(memory), { password: 'pw2' })).rejects.toThrow(
      '403 AccessDenied',
    );
  });
});
