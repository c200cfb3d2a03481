/**
 * A restore stopped (as by Ctrl-C) in the middle of a large file keeps the part it wrote
 * under its temporary name, and the next restore into that target reuses those chunks
 * instead of fetching them again: what a kill left was reused already, a Ctrl-C threw
 * it away. Here the file is rebuilt on the calling thread (a repository the restore
 * pool does not read directly, like S3 or HTTP), stopped by the backend at a fetch.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CallOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { hasCode } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';
import { pseudoRandomBytes, tempDir, tempsBelow } from '../helpers/fs.js';

/** Aborts `controller` at the `after`-th data blob fetched. */
class StopAfter extends ForwardingBackend {
  fetched = 0;
  constructor(
    inner: MemoryBackend,
    private readonly after: number,
    private readonly controller: AbortController,
  ) {
    super(inner);
  }
  override get(key: string, options?: CallOptions): Promise<Uint8Array> {
    if (key.startsWith('data/') && ++this.fetched === this.after) this.controller.abort();
    return this.inner.get(key, options);
  }
}

describe('a restore stopped in the middle of a file', () => {
  it('keeps what it wrote of it, and the rerun reuses it', async () => {
    const memory = new MemoryBackend();
    const repo = await initRepository(memory, {
      chunker: { min: 16_384, avg: 65_536, max: 262_144, level: 1 },
    });
    const src = await tempDir();
    const content = pseudoRandomBytes(12 * 1024 * 1024, 5);
    await writeFile(join(src, 'big.bin'), content);
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });

    const target = await tempDir();
    const controller = new AbortController();
    const stopping = await openRepositoryIn(new StopAfter(memory, 60, controller));
    const err = await restore(stopping, snapshotId!, snapshot, {
      target,
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(hasCode(err, 'aborted'), String(err)).toBe(true);
    const temps = await tempsBelow(target);
    expect(temps).toHaveLength(1);
    const kept = readFileSync(join(target, temps[0]!));
    expect(kept.length).toBeGreaterThan(1024 * 1024);
    expect(kept.equals(content.subarray(0, kept.length))).toBe(true);

    const again = await restore(repo, snapshotId!, snapshot, { target });
    expect(again.bytesReused).toBeGreaterThanOrEqual(1024 * 1024);
    expect(again.bytesFetched).toBeLessThan(content.length);
    expect(readFileSync(join(target, 'big.bin')).equals(content)).toBe(true);
    expect(await tempsBelow(target)).toEqual([]);
  });
});
