/**
 * runDirectChunkJob with a group commit: the job returns once its file is read (the
 * thread can take the next file), and reports each window only once its chunks have
 * durable names, including chunks it skipped because an earlier job of the thread is
 * writing them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/backends/group-commit.js';
import { LocalDirectWriter } from '../../src/backends/local-direct.js';
import { FastCDC } from '../../src/chunker/fastcdc.js';
import { chunkerParams } from '../../src/chunker/params.js';
import { runDirectChunkJob, type StoredWindow } from '../../src/repo/chunk-job.js';
import { PLAIN_CODEC } from '../../src/repo/codec.js';
import { blobKey } from '../../src/repo/layout.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

const CDC = new FastCDC(chunkerParams({ min: 4096, avg: 16384, max: 65536 }));

describe('runDirectChunkJob with a group commit', () => {
  it('returns when the file is read and reports windows once their chunks are named', async () => {
    const src = await tempDir();
    const root = await tempDir('cairn-repo-');
    const content = pseudoRandomBytes(3 * 1024 * 1024, 7);
    await writeFile(join(src, 'a'), content);
    await writeFile(join(src, 'b'), content); // the same chunks again
    const writer = new LocalDirectWriter({ root, fsync: true });
    const commits = new GroupCommit(writer, { maxDelayMs: 60_000 }); // commits only on flush
    const seen = new Set<string>();
    const reports: { file: string; window: StoredWindow }[] = [];
    const sink = (file: string) => ({
      stored: (window: StoredWindow) => reports.push({ file, window }),
      cancelled: () => false,
    });

    const a = await runDirectChunkJob(
      join(src, 'a'),
      CDC,
      PLAIN_CODEC,
      writer,
      commits,
      seen,
      sink('a'),
    );
    const b = await runDirectChunkJob(
      join(src, 'b'),
      CDC,
      PLAIN_CODEC,
      writer,
      commits,
      seen,
      sink('b'),
    );
    // Both files are read; nothing is named or reported yet.
    expect(seen.size).toBeGreaterThan(10);
    for (const key of seen) expect(writer.has(key)).toBe(false);
    expect(reports).toEqual([]);

    commits.flush();
    await Promise.all([a.reported, b.reported]);
    const ids = reports.filter((r) => r.file === 'a').flatMap((r) => r.window.ids);
    expect(new Set(ids.map((id) => blobKey('data', id)))).toEqual(seen);
    for (const key of seen) expect(writer.has(key)).toBe(true);
    // `a` wrote every chunk, `b` none (all seen), and `b` reported after `a`.
    const added = (file: string) =>
      reports.filter((r) => r.file === file).reduce((n, r) => n + r.window.added.length, 0);
    expect(added('a')).toBe(ids.length);
    expect(added('b')).toBe(0);
    expect(reports.map((r) => r.file)).toEqual([
      ...reports.filter((r) => r.file === 'a').map(() => 'a'),
      ...reports.filter((r) => r.file === 'b').map(() => 'b'),
    ]);
    expect(reports.filter((r) => r.file === 'b').flatMap((r) => r.window.ids)).toEqual(ids);
  });

  it('fails the windows of a batch that could not be published, and forgets their chunks', async () => {
    const src = await tempDir();
    const root = await tempDir('cairn-repo-');
    await writeFile(join(src, 'c'), pseudoRandomBytes(512 * 1024, 9));
    const writer = new LocalDirectWriter({ root, fsync: true });
    writer.publishAll = async (pending) => {
      writer.discard(pending);
      throw new Error('no space left on device');
    };
    const commits = new GroupCommit(writer, { maxDelayMs: 1 });
    const seen = new Set<string>();
    const job = await runDirectChunkJob(join(src, 'c'), CDC, PLAIN_CODEC, writer, commits, seen, {
      stored: () => {
        throw new Error('must not report');
      },
      cancelled: () => false,
    });
    await expect(job.reported).rejects.toThrow(/no space left/);
    // A later job must write these chunks again rather than trust a failed batch.
    expect(seen.size).toBe(0);
  });
});
