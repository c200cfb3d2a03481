/** settleAll: every promise settles before a failure is reported, and it is the first one. */
import { describe, expect, it } from 'vitest';
import { settleAll } from '../../src/core/limit.js';

const later = <T>(ms: number, value: () => T): Promise<T> =>
  new Promise((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(value());
      } catch (err) {
        reject(err);
      }
    }, ms),
  );

describe('settleAll', () => {
  it('resolves once all have', async () => {
    let done = 0;
    await settleAll([later(5, () => done++), later(1, () => done++)]);
    expect(done).toBe(2);
  });

  it('rejects with the first failure only after the slowest has settled', async () => {
    let slowDone = false;
    const result = settleAll([
      later(1, () => {
        throw new Error('first');
      }),
      later(2, () => {
        throw new Error('second');
      }),
      later(30, () => {
        slowDone = true;
      }),
    ]);
    await expect(result).rejects.toThrow('first');
    expect(slowDone).toBe(true);
  });
});
