/**
 * Model-based property test: random sequences of puts and deletes against MemoryBackend
 * and LocalBackend must leave each in the same state as a plain Map.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.js';
import { LocalBackend } from '../../src/backends/local.js';
import { MemoryBackend } from '../../src/backends/memory.js';

// No key is a folder of another, which a file system could not hold.
const KEYS = ['a', 'ab', 'b/c', 'b/cd', 'e/f/g', 'e/h'];

type Op =
  | { kind: 'put'; key: string; data: Uint8Array; ifNotExists: boolean }
  | { kind: 'delete'; key: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('put' as const),
    key: fc.constantFrom(...KEYS),
    data: fc.uint8Array({ maxLength: 64 }),
    ifNotExists: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }),
);

async function checkAgainstModel(backend: Backend, ops: Op[]): Promise<void> {
  const model = new Map<string, Uint8Array>();
  for (const o of ops) {
    if (o.kind === 'put') {
      const expected = !(o.ifNotExists && model.has(o.key));
      expect(await backend.put(o.key, o.data, { ifNotExists: o.ifNotExists })).toBe(expected);
      if (expected) model.set(o.key, o.data);
    } else {
      await backend.delete(o.key);
      model.delete(o.key);
    }
  }
  for (const key of KEYS) {
    const data = model.get(key);
    if (data === undefined) {
      await expect(backend.stat(key)).rejects.toMatchObject({ code: 'not-found' });
    } else {
      expect(await backend.get(key)).toEqual(data);
    }
  }
  for (const prefix of ['', 'a', 'b/', 'b/c', 'e/']) {
    const listed = new Map<string, number>();
    for await (const { key, size } of backend.list(prefix)) listed.set(key, size);
    const expected = [...model]
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, d]) => [k, d.length]);
    expect(listed).toEqual(new Map(expected as Array<[string, number]>));
  }
  for (const key of KEYS) await backend.delete(key);
}

describe('backends behave like a Map (property)', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const root of roots) await fsp.rm(root, { recursive: true, force: true });
  });

  it('MemoryBackend', async () => {
    const backend = new MemoryBackend();
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), (ops) => checkAgainstModel(backend, ops)),
      { numRuns: 200 },
    );
  });

  it('LocalBackend', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'cairn-model-'));
    roots.push(root);
    const backend = new LocalBackend(root, { fsync: false });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), (ops) => checkAgainstModel(backend, ops)),
      { numRuns: 100 },
    );
  });
});
