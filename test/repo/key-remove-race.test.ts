/**
 * `removeKeySlot` never leaves a repository without a slot, even against a process that
 * takes no lock (an older cairn) removing the other slots at the same moment.
 */
import { describe, expect, it } from 'vitest';
import type { CallOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { newMasterKeys } from '../../src/repo/crypto.js';
import { addKeySlot, removeKeySlot, slotKey, unlockKeys } from '../../src/repo/key-slots.js';

/** Deletes `other` too, as a racing process would, when `target` is deleted. */
class RacingBackend extends ForwardingBackend {
  constructor(
    inner: MemoryBackend,
    private readonly target: string,
    private readonly other: string,
  ) {
    super(inner);
  }
  override async delete(key: string, options?: CallOptions): Promise<void> {
    if (key === slotKey(this.target)) await super.delete(slotKey(this.other), options);
    return super.delete(key, options);
  }
}

describe('removing a key slot while another process removes the others', () => {
  it('puts the slot back and says why', async () => {
    const memory = new MemoryBackend();
    const keys = newMasterKeys();
    const repoId = 'a'.repeat(64);
    const a = await addKeySlot(memory, repoId, keys, 'password a', { logN: 10 });
    const b = await addKeySlot(memory, repoId, keys, 'password b', { logN: 10 });
    const racing = new RacingBackend(memory, a, b);
    await expect(removeKeySlot(racing, a)).rejects.toThrow(
      /key slot \w{8} was put back: the other slots were removed meanwhile/,
    );
    const opened = await unlockKeys(memory, repoId, 'password a');
    expect(opened.slotId).toBe(a);
  });
});
