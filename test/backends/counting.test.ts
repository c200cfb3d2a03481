import { describe, expect, it } from 'vitest';
import { CountingBackend } from '../../src/backends/counting.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';

describeBackendConformance('CountingBackend(MemoryBackend)', async () => ({
  backend: new CountingBackend(new MemoryBackend()),
}));

describe('CountingBackend', () => {
  it('counts calls per verb and bytes moved', async () => {
    const backend = new CountingBackend(new MemoryBackend());
    await backend.put('a', new Uint8Array(10));
    await backend.put('b/c', new Uint8Array(5));
    expect(await backend.put('a', new Uint8Array(7), { ifNotExists: true })).toBe(false);
    await backend.get('a');
    await backend.get('a', { offset: 8 });
    await backend.get('missing').catch(() => {});
    await backend.stat('b/c');
    for await (const _ of backend.list('')) {
      // consume
    }
    await backend.delete('a');
    expect(backend.counts).toEqual({
      get: 3,
      put: 3,
      stat: 1,
      list: 1,
      delete: 1,
      bytesIn: 12,
      bytesOut: 15,
    });
    backend.reset();
    expect(backend.counts).toEqual({
      get: 0,
      put: 0,
      stat: 0,
      list: 0,
      delete: 0,
      bytesIn: 0,
      bytesOut: 0,
    });
  });
});
