/**
 * `initRepository` writes the config last, after the key slot: an init that fails or is
 * killed part-way leaves no config, so running it again succeeds and the repository then
 * opens with the password. A leftover slot older than ten minutes is removed then; a
 * younger one may be a concurrent init's and is left (it opens nothing here).
 */
import { describe, expect, it } from 'vitest';
import type { PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { BackendError } from '../../src/core/errors.js';
import { newMasterKeys } from '../../src/repo/crypto.js';
import { addKeySlot, LEFTOVER_SLOT_AGE_MS, listKeySlots } from '../../src/repo/key-slots.js';
import { CONFIG_KEY } from '../../src/repo/layout.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';

/** Stands for a process killed after `writes` puts: every later put fails. */
class DyingBackend extends ForwardingBackend {
  puts: string[] = [];
  constructor(
    inner: MemoryBackend,
    private readonly writes: number,
  ) {
    super(inner);
  }
  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    if (this.puts.length >= this.writes) throw new BackendError(`killed before put ${key}`);
    this.puts.push(key);
    return super.put(key, data, options);
  }
}

const password = 'pw';
const encrypted = { encryption: { password, kdfLogN: 10 } };

async function exists(backend: MemoryBackend, key: string): Promise<boolean> {
  return backend.stat(key).then(
    () => true,
    () => false,
  );
}

describe('init writes the config last', () => {
  it('an encrypted init that dies after any write can be run again', async () => {
    const complete = new DyingBackend(new MemoryBackend(), Number.POSITIVE_INFINITY);
    await initRepository(complete, encrypted);
    expect(complete.puts.at(-1)).toBe(CONFIG_KEY);
    const writes = complete.puts.length;
    expect(writes).toBeGreaterThan(1);

    for (let k = 0; k < writes; k++) {
      const memory = new MemoryBackend();
      await expect(initRepository(new DyingBackend(memory, k), encrypted)).rejects.toThrow(
        /killed/,
      );
      expect(await exists(memory, CONFIG_KEY), `died after ${k} writes`).toBe(false);
      const again = await initRepository(memory, encrypted);
      // The first attempt's slot, if it got written, is young: left, opening nothing.
      const slots = (await listKeySlots(memory)).map((s) => s.id);
      expect(slots).toContain(again.keySlot);
      expect(slots.length).toBeLessThanOrEqual(2);
      const opened = await openRepositoryIn(memory, { password });
      expect(opened.config.id).toBe(again.config.id);
      expect(opened.keySlot).toBe(again.keySlot);
    }
    // Over a complete repository, init refuses before writing anything.
    const memory = complete.inner as MemoryBackend;
    await expect(initRepository(memory, encrypted)).rejects.toMatchObject({ code: 'exists' });
    await expect(initRepository(memory, {})).rejects.toMatchObject({ code: 'exists' });
    expect(await listKeySlots(memory)).toHaveLength(1);
    expect((await openRepositoryIn(memory, { password })).keySlot).toBeDefined();
  });

  it('removes leftover slots older than ten minutes, and never a younger one', async () => {
    const memory = new MemoryBackend();
    const old = await addKeySlot(memory, 'a'.repeat(64), newMasterKeys(), 'other', { logN: 10 });
    const young = await addKeySlot(memory, 'b'.repeat(64), newMasterKeys(), 'other', {
      logN: 10,
    });
    // Age the first slot's record.
    const key = `keys/${old}`;
    const record = JSON.parse(Buffer.from(await memory.get(key)).toString('utf8'));
    record.created = new Date(Date.now() - LEFTOVER_SLOT_AGE_MS - 60_000).toISOString();
    await memory.delete(key);
    await memory.put(key, Buffer.from(JSON.stringify(record)));
    const repo = await initRepository(memory, encrypted);
    const ids = (await listKeySlots(memory)).map((s) => s.id);
    expect(ids).not.toContain(old);
    expect(ids).toContain(young);
    expect(ids).toContain(repo.keySlot);
    expect((await openRepositoryIn(memory, { password })).keySlot).toBe(repo.keySlot);
  });

  it('refuses a location holding a repository whose config is missing, and keeps its slots', async () => {
    const memory = new MemoryBackend();
    const first = await initRepository(memory, encrypted);
    await memory.put(`data/ab/ab${'0'.repeat(62)}`, new Uint8Array([1, 2, 3]));
    const slot = first.keySlot!;
    // Aged, and the config lost: init there must keep the only wrapped master keys.
    const key = `keys/${slot}`;
    const record = JSON.parse(Buffer.from(await memory.get(key)).toString('utf8'));
    record.created = new Date(Date.now() - LEFTOVER_SLOT_AGE_MS - 60_000).toISOString();
    await memory.delete(key);
    await memory.put(key, Buffer.from(JSON.stringify(record)));
    await memory.delete(CONFIG_KEY);
    await expect(initRepository(memory, encrypted)).rejects.toThrow(
      /holds snapshots, data or trees but no config: a repository whose config is missing/,
    );
    expect((await listKeySlots(memory)).map((s) => s.id)).toEqual([slot]);
    expect(await exists(memory, CONFIG_KEY)).toBe(false);
  });

  it('is not stopped by objects a repository would not name (an unrelated data/ folder)', async () => {
    const memory = new MemoryBackend();
    await memory.put('data/readme.txt', new Uint8Array([1]));
    await memory.put('snapshots/holiday.jpg', new Uint8Array([2]));
    await (await initRepository(memory, {})).close();
    expect(await exists(memory, CONFIG_KEY)).toBe(true);
  });

  it('an unencrypted init beside a young key slot refuses (every open would refuse it)', async () => {
    const memory = new MemoryBackend();
    const slot = await addKeySlot(memory, 'b'.repeat(64), newMasterKeys(), 'pw', { logN: 10 });
    await expect(initRepository(memory, {})).rejects.toThrow(
      /holds key slots \(keys\/\) of another init, less than 10 minutes old/,
    );
    expect(await exists(memory, CONFIG_KEY)).toBe(false);
    expect((await listKeySlots(memory)).map((s) => s.id)).toEqual([slot]);
  });

  it('a failing key-slot write leaves no config; a second init succeeds', async () => {
    const memory = new MemoryBackend();
    class NoKeys extends ForwardingBackend {
      override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
        if (key.startsWith('keys/')) throw new BackendError(`disk full: put ${key}`);
        return super.put(key, data, options);
      }
    }
    await expect(initRepository(new NoKeys(memory), encrypted)).rejects.toThrow(/disk full/);
    expect(await exists(memory, CONFIG_KEY)).toBe(false);
    const repo = await initRepository(memory, encrypted);
    expect((await openRepositoryIn(memory, { password })).config.id).toBe(repo.config.id);
  });
});
