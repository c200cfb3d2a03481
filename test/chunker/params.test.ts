import { describe, expect, it } from 'vitest';
import { chunkerParams, DEFAULT_LEVEL, sameChunkerParams } from '../../src/chunker/index.js';
import { UsageError } from '../../src/core/errors.js';

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).code).toBe('usage');
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('chunkerParams', () => {
  it('fills level 1 and seed 0n, and freezes the result', () => {
    const p = chunkerParams({ min: 16384, avg: 65536, max: 262144 });
    expect(p).toEqual({ min: 16384, avg: 65536, max: 262144, level: 1, seed: 0n });
    expect(DEFAULT_LEVEL).toBe(1);
    expect(Object.isFrozen(p)).toBe(true);
  });

  it('accepts the range ends and odd values', () => {
    expect(chunkerParams({ min: 64, avg: 256, max: 1024, level: 0 }).level).toBe(0);
    expect(chunkerParams({ min: 1_048_576, avg: 4_194_304, max: 16_777_216, level: 3 }).max).toBe(
      16_777_216,
    );
    expect(chunkerParams({ min: 65, avg: 1001, max: 1025 })).toMatchObject({ min: 65, max: 1025 });
    expect(chunkerParams({ min: 64, avg: 1024, max: 1024 }).avg).toBe(1024);
  });

  it('accepts seeds as bigint, safe integer, decimal or hex string', () => {
    const base = { min: 64, avg: 256, max: 1024 };
    expect(chunkerParams({ ...base, seed: 666 }).seed).toBe(666n);
    expect(chunkerParams({ ...base, seed: '666' }).seed).toBe(666n);
    expect(chunkerParams({ ...base, seed: '0xFFFFFFFFFFFFFFFF' }).seed).toBe((1n << 64n) - 1n);
    expect(chunkerParams({ ...base, seed: (1n << 64n) - 1n }).seed).toBe((1n << 64n) - 1n);
  });

  it.each([
    [{ min: 63, avg: 256, max: 1024 }, /min must be an integer from 64 to 1048576, got 63/],
    [{ min: 1_048_577, avg: 4_000_000, max: 8_000_000 }, /min .*1048576/],
    [{ min: 64.5, avg: 256, max: 1024 }, /min must be an integer/],
    [{ min: 64, avg: 255, max: 1024 }, /avg must be an integer from 256 to 4194304, got 255/],
    [{ min: 64, avg: 4_194_305, max: 8_000_000 }, /avg .*4194304/],
    [{ min: 64, avg: 256, max: 1023 }, /max must be an integer from 1024 to 16777216, got 1023/],
    [{ min: 64, avg: 256, max: 16_777_217 }, /max .*16777216/],
    [{ min: 64, avg: 256, max: Number.NaN }, /max must be an integer/],
    [{ min: 4096, avg: 4096, max: 8192 }, /min \(4096\) must be less than avg \(4096\)/],
    [{ min: 8192, avg: 4096, max: 8192 }, /min \(8192\) must be less than avg/],
    [{ min: 64, avg: 2048, max: 1024 }, /avg \(2048\) must not be greater than max \(1024\)/],
    [{ min: 64, avg: 256, max: 1024, level: 4 }, /level must be 0, 1, 2 or 3, got 4/],
    [{ min: 64, avg: 256, max: 1024, level: 1.5 }, /level/],
    [{ min: 64, avg: 256, max: 1024, level: -1 }, /level/],
    [{ min: 64, avg: 256, max: 1024, seed: -1n }, /seed must be an integer from 0 to 2\^64-1/],
    [{ min: 64, avg: 256, max: 1024, seed: 1n << 64n }, /seed/],
    [{ min: 64, avg: 256, max: 1024, seed: 1.5 }, /seed/],
    [{ min: 64, avg: 256, max: 1024, seed: 2 ** 60 }, /seed/],
    [{ min: 64, avg: 256, max: 1024, seed: 'abc' }, /seed/],
    [{ min: 64, avg: 256, max: 1024, seed: '-5' }, /seed/],
  ] as const)('rejects case %#', (input, message) => {
    const err = usageError(() => chunkerParams(input as Parameters<typeof chunkerParams>[0]));
    expect(err.message).toMatch(message);
  });

  it('rejects non-number sizes and non-objects', () => {
    usageError(() => chunkerParams({ min: '64', avg: 256, max: 1024 } as never));
    usageError(() => chunkerParams(null as never));
  });

  it('sameChunkerParams compares every field', () => {
    const a = chunkerParams({ min: 64, avg: 256, max: 1024 });
    expect(sameChunkerParams(a, chunkerParams({ min: 64, avg: 256, max: 1024, seed: 0 }))).toBe(
      true,
    );
    expect(sameChunkerParams(a, chunkerParams({ min: 64, avg: 256, max: 1024, seed: 1 }))).toBe(
      false,
    );
    expect(sameChunkerParams(a, chunkerParams({ min: 64, avg: 256, max: 1024, level: 2 }))).toBe(
      false,
    );
    expect(sameChunkerParams(a, chunkerParams({ min: 64, avg: 256, max: 2048 }))).toBe(false);
  });
});
