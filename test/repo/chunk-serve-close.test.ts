/**
 * serveChunkJobs' `close` (a pool closing, e.g. a backup stopped by Ctrl-C): the
 * running job stops, objects not published yet are dropped with their temporary files,
 * and `closed` comes only once nothing of the thread is left half-written in the
 * repository's folders. Before, the thread was terminated as it was, and the temporary
 * files of its queued batches stayed (`.tmp~...`, until a prune an hour later).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEMP_PREFIX } from '../../src/backends/local.js';
import { chunkerParams } from '../../src/chunker/params.js';
import type { FromWorker } from '../../src/repo/chunk-protocol.js';
import { serveChunkJobs } from '../../src/repo/chunk-serve.js';
import { ObjectCodec } from '../../src/repo/codec.js';
import { codecSetup } from '../../src/repo/codec-setup.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

async function filesBelow(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('serveChunkJobs close', () => {
  it('drops the queued files and leaves only whole, named objects', async () => {
    const src = await tempDir();
    const root = await tempDir('cairn-repo-');
    const files = ['a', 'b', 'c'];
    for (const [i, name] of files.entries()) {
      await writeFile(join(src, name), pseudoRandomBytes(6 * 1024 * 1024, 40 + i));
    }
    const codec = new ObjectCodec();
    const messages: FromWorker[] = [];
    let onMessage: (m: FromWorker) => void = () => {};
    const handle = serveChunkJobs(
      {
        ...codecSetup(codec),
        chunker: chunkerParams({ min: 4096, avg: 16384, max: 65536 }),
        direct: { root, fsync: true },
      },
      (message) => {
        messages.push(message);
        onMessage(message);
      },
    );
    const closed = new Promise<void>((resolve) => {
      onMessage = (m) => {
        // The first file is read (its windows handed to the group commit, some still
        // queued): close right then, before the thread can take the next file.
        if (m.type !== 'read') return;
        onMessage = (x) => {
          if (x.type === 'closed') resolve();
        };
        handle({ type: 'close' });
      };
    });
    for (const [task, name] of files.entries()) {
      handle({ type: 'task', task, path: join(src, name), direct: true });
    }
    await closed;

    // The queued files never started, and nothing happens after `closed`.
    expect(messages.filter((m) => 'task' in m && m.task > 0 && m.type !== 'error')).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = messages.slice(messages.findIndex((m) => m.type === 'closed') + 1);
    expect(after.filter((m) => m.type === 'stored' || m.type === 'read')).toEqual([]);
    const left = await filesBelow(root);
    expect(left.filter((f) => f.includes(TEMP_PREFIX))).toEqual([]);
    // Every object left is whole: it opens, and its content hashes to its name.
    // Only the first file's chunks can have been stored (6 MiB at 16 KiB on average).
    expect(left.length).toBeLessThan(6 * 64 * 2);
    for (const f of left) {
      const id = f.slice(f.lastIndexOf('/') + 1);
      await expect(codec.openVerified(await readFile(f), id, f)).resolves.toBeDefined();
    }
    // A thread that is closing takes no more work.
    handle({ type: 'task', task: 9, path: join(src, 'a'), direct: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(messages.filter((m) => 'task' in m && m.task === 9)).toEqual([]);
  });
});
