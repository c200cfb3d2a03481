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
import { expectedBytes, type Run, runsArbitrary } from '../helpers/runs.js';

/** Writes `runs` (each a position and its parts) through a writer; the file's bytes. */
function writeRuns(file: string, runs: Run[]): { bytes: Buffer; uncached: number } {
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
    expect(bytes.equals(expectedBytes(runs))).toBe(true);
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
    expect(bytes.equals(expectedBytes(runs))).toBe(true);
    const hole = bytes.subarray(a.length, a.length + 65_536 + 17);
    expect(hole.every((x) => x === 0)).toBe(true);
  });

  it('reads back whatever runs it is given (property)', async () => {
    const dir = await tempDir();
    let n = 0;
    const runs = runsArbitrary({ maxGap: 20_000, minPart: 0, maxParts: 6, maxRuns: 8 });
    await fc.assert(
      fc.asyncProperty(runs, async (runs) => {
        const { bytes } = writeRuns(join(dir, `p${n++}`), runs);
        expect(bytes.equals(expectedBytes(runs))).toBe(true);
      }),
      // The first: an empty run after a gap, which writes nothing.
      { numRuns: 40, examples: [[[{ position: 1, parts: [Buffer.alloc(0)] }]]] },
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
