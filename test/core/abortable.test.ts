/**
 * `abortable`: yields a source's items in order, stops with AbortedError while the
 * source is still waiting for its next item, ends the source (its `return` runs, and a
 * stream is destroyed) when stopped early, whatever that `return` gives, and holds no item once it is consumed (a reaction per item on one
 * long-lived promise kept every piece of a 512 MiB stream alive).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { abortable } from '../../src/core/abort.js';
import { AbortedError } from '../../src/core/errors.js';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('abortable', () => {
  it('yields every item in order, with or without a signal', async () => {
    async function* three() {
      yield 1;
      yield 2;
      yield 3;
    }
    expect(await collect(abortable(three(), undefined))).toEqual([1, 2, 3]);
    expect(await collect(abortable(three(), new AbortController().signal))).toEqual([1, 2, 3]);
  });

  it('stops at once while the source waits, and ends the source', async () => {
    let ended = false;
    let destroyed = false;
    const stalled: AsyncIterable<number> & { destroy(): void } = {
      destroy: () => {
        destroyed = true;
      },
      [Symbol.asyncIterator]: () => {
        let first = true;
        return {
          next: () => {
            if (first) {
              first = false;
              return Promise.resolve({ value: 1, done: false });
            }
            return new Promise(() => {}); // never settles
          },
          return: () => {
            ended = true;
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    };
    const controller = new AbortController();
    const seen: number[] = [];
    setTimeout(() => controller.abort(), 50);
    await expect(
      (async () => {
        for await (const n of abortable(stalled, controller.signal)) seen.push(n);
      })(),
    ).rejects.toThrow(AbortedError);
    expect(seen).toEqual([1]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toBe(true);
    // A stream is destroyed too: its `return` would wait for the pending read.
    expect(destroyed).toBe(true);
  });

  it('takes a source whose return gives a plain object, or throws', async () => {
    for (const end of [
      () => ({ value: undefined, done: true as const }),
      () => {
        throw new Error('cannot end');
      },
    ]) {
      let n = 0;
      const source = {
        [Symbol.asyncIterator]: () => ({
          next: () => Promise.resolve({ value: n++, done: false as const }),
          return: end,
        }),
      } as unknown as AsyncIterable<number>;
      const seen: number[] = [];
      for await (const x of abortable(source, new AbortController().signal)) {
        seen.push(x);
        if (seen.length === 3) break;
      }
      expect(seen).toEqual([0, 1, 2]);
    }
  });

  it('refuses to start on a signal that has fired, and passes on source errors', async () => {
    async function* one() {
      yield 1;
    }
    const fired = new AbortController();
    fired.abort();
    await expect(collect(abortable(one(), fired.signal))).rejects.toThrow(AbortedError);
    async function* failing() {
      yield 1;
      throw new Error('EIO-like');
    }
    await expect(collect(abortable(failing(), new AbortController().signal))).rejects.toThrow(
      'EIO-like',
    );
  });

  it('holds no item it has handed on while the iteration goes on', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const refs: WeakRef<object>[] = [];
    async function* pieces() {
      for (let i = 0; i < 200; i++) {
        const piece = { bytes: new Uint8Array(1024) };
        refs.push(new WeakRef(piece));
        yield piece;
      }
    }
    const items = abortable(pieces(), new AbortController().signal)[Symbol.asyncIterator]();
    for (let i = 0; i < 100; i++) await items.next();
    // Still iterating (the operation has not ended): the pieces handed on are garbage.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(refs.slice(0, 90).filter((r) => r.deref() !== undefined)).toHaveLength(0);
    await items.return(undefined);
  });
});
