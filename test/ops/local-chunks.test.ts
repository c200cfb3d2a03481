/**
 * LocalChunkIndex: chunks of the files in a restore target, read back verified. A
 * restore's leftovers (temporary files, staged directories) are indexed too, but a chunk
 * a lasting file also holds is read from that file: the restore removes its leftovers as
 * it goes, and a chunk located only there would then be fetched again.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cutPoints } from '../../src/chunker/fastcdc.js';
import { chunkerParams } from '../../src/chunker/params.js';
import { sha256Hex } from '../../src/core/ids.js';
import { LocalChunkIndex } from '../../src/ops/local-chunks.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

const PARAMS = chunkerParams({ min: 1024, avg: 4096, max: 16384 });

describe('LocalChunkIndex', () => {
  it('indexes leftovers but reads a chunk from a lasting file when one holds it', async () => {
    const dir = await tempDir();
    const shared = pseudoRandomBytes(200_000, 1);
    const onlyInTemp = pseudoRandomBytes(200_000, 2);
    // Names sort the leftovers first: before, the first file seen kept the location.
    await writeFile(join(dir, '.cairn-tmp-0000000000000001'), Buffer.concat([shared, onlyInTemp]));
    await mkdir(join(dir, '.cairn-tmp-0000000000000002'));
    await writeFile(join(dir, '.cairn-tmp-0000000000000002', 'x'), shared);
    await writeFile(join(dir, 'real'), shared);
    const index = new LocalChunkIndex(PARAMS);
    await index.addTrees([dir]);
    expect(index.bytesIndexed).toBe(3 * shared.length + onlyInTemp.length);

    // Every chunk of `real` is known; after the leftovers are gone they still read.
    const ids = cutPoints(shared, PARAMS).map((c) =>
      sha256Hex(shared.subarray(c.offset, c.offset + c.length)),
    );
    for (const id of ids) expect(index.has(id)).toBe(true);
    expect(ids.length).toBeGreaterThan(5);
    await rm(join(dir, '.cairn-tmp-0000000000000001'));
    await rm(join(dir, '.cairn-tmp-0000000000000002'), { recursive: true });
    for (const id of ids) {
      const bytes = await index.read(id);
      expect(bytes && sha256Hex(bytes)).toBe(id);
    }
  });

  it('indexes files read whole and files streamed alike, each chunk readable from its place', async () => {
    const dir = await tempDir();
    // Under, at and over the size read whole (1 MiB), and empty.
    const sizes = [0, 7, 5000, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20];
    const contents = sizes.map((n, i) => pseudoRandomBytes(n, 10 + i));
    for (const [i, data] of contents.entries()) await writeFile(join(dir, `f${i}`), data);
    const index = new LocalChunkIndex(PARAMS);
    await index.addTrees([dir]);
    expect(index.bytesIndexed).toBe(sizes.reduce((a, b) => a + b, 0));
    for (const [i, data] of contents.entries()) {
      const ids = cutPoints(data, PARAMS).map((c) =>
        sha256Hex(data.subarray(c.offset, c.offset + c.length)),
      );
      expect(index.fileMatches(join(dir, `f${i}`), ids, data.length), `f${i}`).toBe(true);
      for (const id of ids) {
        const bytes = await index.read(id);
        expect(bytes && sha256Hex(bytes)).toBe(id);
      }
    }
  });
});
