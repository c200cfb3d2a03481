import { describe, expect, it } from 'vitest';
import type { BackendCapabilities, ObjectInfo } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { ReadOnlyBackend } from '../../src/backends/readonly.js';
import { UsageError } from '../../src/core/errors.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';

describeBackendConformance(
  'ReadOnlyBackend(MemoryBackend)',
  async () => {
    const inner = new MemoryBackend();
    return {
      backend: new ReadOnlyBackend(inner),
      seed: async (key, data) => {
        await inner.put(key, data);
      },
    };
  },
  { readOnly: true },
);

/** Stands in for a plain HTTP server: it cannot list. */
class Unlistable extends ForwardingBackend {
  override get capabilities(): BackendCapabilities {
    return { ...this.inner.capabilities, listable: false };
  }
  override list(): AsyncIterable<ObjectInfo> {
    throw new UsageError('cannot list');
  }
}

describeBackendConformance(
  'ReadOnlyBackend(unlistable MemoryBackend)',
  async () => {
    const inner = new MemoryBackend();
    return {
      backend: new ReadOnlyBackend(new Unlistable(inner)),
      seed: async (key, data) => {
        await inner.put(key, data);
      },
    };
  },
  { readOnly: true, listable: false },
);

describe('ReadOnlyBackend', () => {
  it('refuses writes with a message naming key and location, and reads through', async () => {
    const inner = new MemoryBackend('memory:ro');
    await inner.put('a', new Uint8Array([1]));
    const backend = new ReadOnlyBackend(inner);
    expect(backend.capabilities).toEqual({ writable: false, listable: true, atomicCreate: true });
    await expect(backend.put('a', new Uint8Array([2]))).rejects.toThrow(
      'cannot put a: memory:ro is opened read-only',
    );
    await expect(backend.delete('a')).rejects.toThrow(
      'cannot delete a: memory:ro is opened read-only',
    );
    expect(await backend.get('a')).toEqual(new Uint8Array([1]));
    expect(inner.capabilities.writable).toBe(true);
  });
});
