/**
 * Runs of bytes for the tests of uncached writes (uncached-file.ts):
 * each run a file position and its parts, one after another with gaps (holes) between,
 * as restore writes batches of chunks.
 */
import fc from 'fast-check';
import { patternBytes } from './fs.js';

export type Run = { position: number; parts: Buffer[] };

/** Runs of `parts` sized `minPart`..400,000 bytes, after gaps of 0..`maxGap` bytes. */
export function runsArbitrary(o: {
  maxGap: number;
  minPart: number;
  maxParts: number;
  maxRuns: number;
}): fc.Arbitrary<Run[]> {
  const spec = fc.array(
    fc.record({
      gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: o.maxGap })),
      sizes: fc.array(fc.integer({ min: o.minPart, max: 400_000 }), {
        minLength: 1,
        maxLength: o.maxParts,
      }),
    }),
    { minLength: 1, maxLength: o.maxRuns },
  );
  return spec.map((runs) => {
    let position = 0;
    return runs.map(({ gap, sizes }, i) => {
      position += gap;
      const parts = sizes.map((s, k) => patternBytes(s, i * 10 + k));
      const run = { position, parts };
      for (const p of parts) position += p.length;
      return run;
    });
  });
}

/** The bytes of a run, all told. */
function runLength(run: Run): number {
  return run.parts.reduce((n, p) => n + p.length, 0);
}

/**
 * What a file written with `runs` holds: their bytes at their positions, zeros between.
 * An empty run writes nothing, so it does not make the file longer.
 */
export function expectedBytes(runs: Run[]): Buffer {
  let size = 0;
  for (const r of runs) if (runLength(r) > 0) size = Math.max(size, r.position + runLength(r));
  const out = Buffer.alloc(size);
  for (const r of runs) Buffer.concat(r.parts).copy(out, r.position);
  return out;
}
