/**
 * UncachedFileWriter: runs of bytes written at any positions, with holes between them,
 * read back exactly; the whole blocks of a run go uncached (where the file system takes
 * O_DIRECT, as this machine's do), the partial blocks at its ends through the caller's
 * descriptor; a refusal sends everything through the cache.
 */
import { closeSync, openSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALIGN,
  newStage,
  refuseUncached,
  UncachedFileWriter,
} from '../../src/core/uncached-file.js';
import { patternBytes, takesDirectIo, tempDir } from '../helpers/fs.js';

/** Writes `runs` (each a position and its parts) through a writer; the file's bytes. */
function writeRuns(
  file: string,
  runs: { position: number; parts: Buffer[] }[],
): { bytes: Buffer; uncached: number } {
  const fd = openSync(file, 'wx', 0o600);
  const writer = UncachedFileWriter.open(file, fd, newStage());
  try {
    if (!writer) throw new Error('no uncached writer');
    for (const run of runs) writer.write(run.parts, run.position);
    writer.flush();
  } finally {
    writer?.close();
    closeSync(fd);
  }
  return { bytes: readFileSync(file), uncached: writer.uncachedBytes };
}

/** What the file should hold: the runs' bytes at their positions, zeros between. */
function expected(runs: { position: number; parts: Buffer[] }[]): Buffer {
  let size = 0;
  for (const r of runs) size = Math.max(size, r.position + Buffer.concat(r.parts).length);
  const out = Buffer.alloc(size);
  for (const r of runs) Buffer.concat(r.parts).copy(out, r.position);
  return out;
}

describe('UncachedFileWriter', () => {
  it('writes a run at an unaligned position: whole blocks uncached, the ends cached', async () => {
    const dir = await tempDir();
    const direct = takesDirectIo(dir);
    const data = patternBytes(3 * 1024 * 1024 + 123, 1);
    // Split unevenly, as chunks come.
    const parts = [
      data.subarray(0, 70_001),
      data.subarray(70_001, 1_500_000),
      data.subarray(1_500_000),
    ];
    const runs = [{ position: 1000, parts }];
    const { bytes, uncached } = writeRuns(join(dir, 'f'), runs);
    expect(bytes.equals(expected(runs))).toBe(true);
    if (direct) {
      // Everything but the first partial block and the last one.
      const end = 1000 + data.length;
      expect(uncached).toBe(Math.floor(end / ALIGN) * ALIGN - ALIGN);
    }
  });

  it('leaves holes between runs that do not follow each other', async () => {
    const dir = await tempDir();
    const a = patternBytes(2 * 1024 * 1024, 2);
    const b = patternBytes(1024 * 1024 + 5, 3);
    const c = patternBytes(100, 4);
    const runs = [
      { position: 0, parts: [a] },
      { position: a.length + 65_536 + 17, parts: [b] },
      { position: a.length + 65_536 + 17 + b.length, parts: [c] },
    ];
    const { bytes } = writeRuns(join(dir, 'f'), runs);
    expect(bytes.equals(expected(runs))).toBe(true);
    const hole = bytes.subarray(a.length, a.length + 65_536 + 17);
    expect(hole.every((x) => x === 0)).toBe(true);
  });

  it('reads back whatever runs it is given (property)', async () => {
    const dir = await tempDir();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20_000 })),
            sizes: fc.array(fc.integer({ min: 0, max: 400_000 }), { minLength: 1, maxLength: 6 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (spec) => {
          let position = 0;
          const runs = spec.map((r, i) => {
            position += r.gap;
            const parts = r.sizes.map((s, j) => patternBytes(s, i * 10 + j));
            const run = { position, parts };
            position += r.sizes.reduce((x, y) => x + y, 0);
            return run;
          });
          const { bytes } = writeRuns(join(dir, `p${n++}`), runs);
          expect(bytes.equals(expected(runs))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('writes into the file it was given, not what a symlink put in its place', async () => {
    const dir = await tempDir();
    const victim = join(dir, 'victim');
    writeFileSync(victim, Buffer.alloc(3 * 1024 * 1024, 7));
    const file = join(dir, 'f');
    const fd = openSync(file, 'wx', 0o600);
    // Swapped between the file's open and the uncached one.
    renameSync(file, join(dir, 'moved'));
    symlinkSync(victim, file);
    const writer = UncachedFileWriter.open(file, fd, newStage());
    try {
      writer?.write([patternBytes(2 * 1024 * 1024, 9)], 0);
      writer?.flush();
    } finally {
      writer?.close();
      closeSync(fd);
    }
    expect(readFileSync(victim).equals(Buffer.alloc(3 * 1024 * 1024, 7))).toBe(true);
    expect(readFileSync(join(dir, 'moved')).equals(patternBytes(2 * 1024 * 1024, 9))).toBe(true);
  });

  it('is not used once uncached writes are refused: the caller writes through the cache', async () => {
    const dir = await tempDir();
    const file = join(dir, 'f');
    const fd = openSync(file, 'wx', 0o600);
    try {
      refuseUncached();
      expect(UncachedFileWriter.open(file, fd, newStage())).toBeUndefined();
    } finally {
      closeSync(fd);
    }
  });
});
