/**
 * LocalBackend and new folders: a put into a folder another put is still making durable
 * waits for that, so no object is reported stored before the folder holding it. The
 * parent folder's fsync is slowed down (its `open` for the fsync waits) to show the order.
 */
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { tempDir } from '../helpers/fs.js';

const gate = vi.hoisted(() => ({ slow: '', order: [] as string[] }));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const open: typeof real.promises.open = async (path, flags, mode) => {
    if (flags === 'r' && String(path) === gate.slow) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      gate.order.push('parent fsync');
    }
    return real.promises.open(path, flags, mode);
  };
  return { ...real, promises: { ...real.promises, open } };
});

describe('LocalBackend: puts into a new folder', () => {
  it('a second put waits until the folder the first one made is durable', async () => {
    const root = await tempDir();
    gate.slow = join(root, 'data');
    const backend = new LocalBackend(root);
    const first = backend.put('data/ab/one', Buffer.from('1')).then(() => gate.order.push('one'));
    const second = backend.put('data/ab/two', Buffer.from('2')).then(() => gate.order.push('two'));
    await Promise.all([first, second]);
    expect(gate.order.indexOf('parent fsync')).toBe(0);
    expect(gate.order.slice(1).sort()).toEqual(['one', 'two']);
    // Known durable now: later puts do not fsync the parent again.
    gate.order.length = 0;
    await backend.put('data/ab/three', Buffer.from('3'));
    expect(gate.order).toEqual([]);
  });
});
