/**
 * writeRun (src/core/uncached-runs.ts): runs of bytes written one by one, back to back
 * or with holes between, read back exactly; each run's whole blocks go uncached (where
 * the file system takes O_DIRECT, as this machine's do) and the blocks it covers only
 * in part through the cache, so runs that meet mid-block never write one block both ways.
 */
import { fstatSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALIGN } from '../../src/core/uncached-file.js';
import { closeUncachedRuns, openUncachedRuns, writeRun } from '../../src/core/uncached-runs.js';
import { patternBytes, takesDirectIo, tempDir } from '../helpers/fs.js';
import { expectedBytes, type Run, runLength, runsArbitrary } from '../helpers/runs.js';

/**
 * Writes `runs` in order into a new file: its bytes, the bytes written uncached and
 * through the cache (each byte once: together they are the runs' bytes), and whether
 * the uncached descriptor was closed afterwards.
 */
async function writeRuns(
  file: string,
  runs: Run[],
): Promise<{ bytes: Buffer; uncached: number; cached: number; closed: boolean }> {
  const fh = await open(file, 'wx', 0o600);
  const target = openUncachedRuns(file, fh);
  if (!target) throw new Error('no uncached target');
  try {
    for (const run of runs) await writeRun(fh, target, run.parts, run.position);
  } finally {
    await closeUncachedRuns(target);
    await fh.close();
  }
  let closed = false;
  try {
    fstatSync(target.fd);
  } catch (err) {
    closed = (err as NodeJS.ErrnoException).code === 'EBADF';
  }
  return {
    bytes: readFileSync(file),
    uncached: target.uncachedBytes,
    cached: target.cachedBytes,
    closed,
  };
}

/** The file's expected bytes, and the whole blocks strictly inside each run. */
function expected(runs: Run[]): { bytes: Buffer; wholeBlocks: number } {
  let wholeBlocks = 0;
  for (const r of runs) {
    const first = Math.ceil(r.position / ALIGN);
    const last = Math.floor((r.position + runLength(r)) / ALIGN);
    wholeBlocks += Math.max(0, last - first);
  }
  return { bytes: expectedBytes(runs), wholeBlocks };
}

/** The runs' bytes, all told. */
function runBytes(runs: Run[]): number {
  return runs.reduce((n, r) => n + runLength(r), 0);
}

describe('writeRun', () => {
  it('writes back-to-back runs that meet mid-block, and runs past holes, exactly', async () => {
    const dir = await tempDir();
    const data = patternBytes(5 * 1024 * 1024 + 777, 3);
    // Batches as restore makes them: about 1 MiB each, split where chunks end.
    const cuts = [0, 70_001, 1_100_000, 1_150_123, 2_400_000, 4_000_000, data.length];
    const runs: Run[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const part = data.subarray(cuts[i]!, cuts[i + 1]!);
      runs.push({ position: cuts[i]!, parts: [part.subarray(0, 1000), part.subarray(1000)] });
    }
    // And one after a hole.
    runs.push({ position: data.length + 3 * ALIGN + 5, parts: [patternBytes(2_000_000, 4)] });
    const { bytes, uncached, cached, closed } = await writeRuns(join(dir, 'f'), runs);
    const want = expected(runs);
    expect(bytes.equals(want.bytes)).toBe(true);
    // This machine's /tmp takes O_DIRECT; elsewhere the count is not checked.
    if (takesDirectIo(dir)) expect(uncached).toBe(want.wholeBlocks * ALIGN);
    expect(uncached + cached).toBe(runBytes(runs)); // no byte written twice
    expect(closed).toBe(true);
  });

  it('writes into the file it was given, not what a symlink put in its place', async () => {
    const dir = await tempDir();
    const victim = join(dir, 'victim');
    writeFileSync(victim, Buffer.alloc(3 * 1024 * 1024, 7));
    const file = join(dir, 'f');
    const fh = await open(file, 'wx', 0o600);
    // Swapped between the file's open and the uncached one.
    renameSync(file, join(dir, 'moved'));
    symlinkSync(victim, file);
    const target = openUncachedRuns(file, fh);
    try {
      await writeRun(fh, target, [patternBytes(2 * 1024 * 1024, 9)], 0);
    } finally {
      if (target) await closeUncachedRuns(target);
      await fh.close();
    }
    expect(readFileSync(victim).equals(Buffer.alloc(3 * 1024 * 1024, 7))).toBe(true);
    expect(readFileSync(join(dir, 'moved')).equals(patternBytes(2 * 1024 * 1024, 9))).toBe(true);
  });

  it('reads back whatever runs it is given (property)', async () => {
    const dir = await tempDir();
    let n = 0;
    const runs = runsArbitrary({ maxGap: 3 * ALIGN, minPart: 1, maxParts: 4, maxRuns: 5 });
    await fc.assert(
      fc.asyncProperty(runs, async (runs) => {
        const { bytes, uncached, cached } = await writeRuns(join(dir, `f${n++}`), runs);
        const want = expected(runs);
        expect(bytes.equals(want.bytes)).toBe(true);
        if (takesDirectIo(dir)) expect(uncached).toBe(want.wholeBlocks * ALIGN);
        expect(uncached + cached).toBe(runBytes(runs));
      }),
      { numRuns: 40 },
    );
  });

  // Last: a refusal turns uncached writes off for the rest of this process.
  it('sends the rest of a run through the cache when the file system refuses', async () => {
    const dir = await tempDir();
    const file = join(dir, 'f');
    const fh = await open(file, 'wx', 0o600);
    const target = openUncachedRuns(file, fh);
    if (!target) throw new Error('no uncached target');
    // A stage one byte off its alignment: O_DIRECT refuses to write from it (EINVAL).
    const aligned = target.stage;
    target.stage = aligned.subarray(1, 1 + 64 * 1024);
    const data = patternBytes(1024 * 1024 + 100, 5);
    try {
      await writeRun(fh, target, [data], 10);
    } finally {
      target.stage = aligned;
      await closeUncachedRuns(target);
      await fh.close();
    }
    const want = Buffer.alloc(10 + data.length);
    data.copy(want, 10);
    expect(readFileSync(file).equals(want)).toBe(true);
    if (takesDirectIo(dir)) {
      expect(target.uncachedBytes).toBe(0);
      expect(target.cachedBytes).toBe(data.length);
      expect(openUncachedRuns(file, fh)).toBeUndefined(); // off from now on
    }
  });
});
