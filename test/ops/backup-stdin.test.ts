/**
 * Backups of a stream (`stdin`): what a real pipe carries, written by another process,
 * becomes one file at the snapshot's root, byte-exact, with made-up metadata; the
 * snapshot records `stdin:NAME`, the next backup of the same name finds it as its
 * parent and stores nothing twice; bad combinations are refused before anything is
 * written, and a stream that cannot be read saves no snapshot.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, createReadStream, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { AbortedError, BackendError, CairnError, UsageError } from '../../src/core/errors.js';
import { nameFromBytes } from '../../src/core/fs-names.js';
import type { FileEntry } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { initRepository, type Repository } from '../../src/repo/repository.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { localRepo, TINY_CHUNKS } from '../helpers/repo.js';

/** A FIFO that a child process fills with `bytes` and then closes. */
async function pipeOf(bytes: Buffer): Promise<string> {
  const dir = await tempDir();
  const data = join(dir, 'data');
  await writeFile(data, bytes);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  // `cat` opens the FIFO for writing, which waits for the backup to open it for reading.
  const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', data, fifo], { stdio: 'ignore' });
  writer.on('error', () => {});
  return fifo;
}

async function restoredFile(repo: Repository, id: string, name: string): Promise<Buffer> {
  const ref = (await repo.snapshots.list()).find((r) => r.id === id)!;
  const target = await tempDir();
  await restore(repo, ref.id, ref.snapshot, { target });
  return readFile(join(target, name));
}

describe('backup of a stream', () => {
  it('stores what a pipe carries as one file, byte-exact, with made-up metadata', async () => {
    const { repo } = await localRepo();
    const bytes = pseudoRandomBytes(300_000, 5);
    const from = await pipeOf(bytes);
    const before = Date.now();
    const { snapshotId, snapshot } = await backup(repo, {
      paths: [],
      stdin: { filename: 'db.sql', source: createReadStream(from) },
    });
    expect(snapshot.paths).toEqual(['stdin:db.sql']);
    expect(snapshot.summary).toMatchObject({ files: 1, bytes: bytes.length, dirs: 1, errors: 0 });
    const entries = [];
    for await (const e of repo.trees.entries(snapshot.tree)) entries.push(e);
    expect(entries).toHaveLength(1);
    const entry = entries[0] as FileEntry;
    expect(entry).toMatchObject({ kind: 'file', name: 'db.sql', mode: 0o644, size: bytes.length });
    expect(entry.uid).toBe(process.getuid!());
    expect(entry.gid).toBe(process.getgid!());
    expect(entry.mtime.sec * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(entry.chunks.length).toBeGreaterThan(10);
    expect((await restoredFile(repo, snapshotId!, 'db.sql')).equals(bytes)).toBe(true);

    // The same stream again: the first is its parent, and nothing new is stored.
    const again = await backup(repo, {
      paths: [],
      stdin: { filename: 'db.sql', source: createReadStream(await pipeOf(bytes)) },
    });
    expect(again.snapshot.parent).toBe(snapshotId);
    // Only the root tree (its entry's time is new): no chunk is stored twice.
    expect(again.snapshot.summary.blobsAdded).toBeLessThanOrEqual(2);
    expect(again.snapshot.summary.bytesAdded).toBeLessThan(bytes.length / 5);
  });

  it('round-trips any stream, empty ones too', async () => {
    const { repo } = await localRepo();
    const empty = await backup(repo, {
      paths: [],
      stdin: { filename: 'empty', source: createReadStream(await pipeOf(Buffer.alloc(0))) },
    });
    expect(empty.snapshot.summary).toMatchObject({ files: 1, bytes: 0 });
    expect(await restoredFile(repo, empty.snapshotId!, 'empty')).toEqual(Buffer.alloc(0));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), async (data) => {
        const bytes = Buffer.from(data);
        const { snapshotId } = await backup(repo, {
          paths: [],
          stdin: { filename: 'blob', source: createReadStream(await pipeOf(bytes)) },
          lock: false,
        });
        expect((await restoredFile(repo, snapshotId!, 'blob')).equals(bytes)).toBe(true);
      }),
      { numRuns: 8 },
    );
  });

  it('stops at once when aborted while the stream has nothing to give, and closes it', async () => {
    const { repo } = await localRepo();
    const fifo = join(await tempDir(), 'fifo');
    execFileSync('mkfifo', [fifo]);
    // A writer that sends a little, then stalls without closing (a stuck pg_dump).
    const end = openSync(fifo, constants.O_RDWR); // opens without waiting for a reader
    const writer = spawn('sh', ['-c', 'head -c 5000 /dev/zero; exec sleep 60'], {
      stdio: ['ignore', end, 'ignore'],
    });
    closeSync(end);
    const stream = createReadStream(fifo);
    try {
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 300);
      await expect(
        backup(repo, {
          paths: [],
          stdin: { filename: 'x', source: stream },
          signal: controller.signal,
        }),
      ).rejects.toThrow(AbortedError);
      expect(Date.now() - started).toBeLessThan(5000);
      // Closed, not left with a read pending that would keep the process alive.
      expect(stream.destroyed).toBe(true);
      expect(await repo.snapshots.list()).toEqual([]);
    } finally {
      writer.kill();
    }
  });

  it('stops reading, and reports the write, when a chunk cannot be stored', async () => {
    /** A repository whose data writes fail (a full disk, a refused request). */
    class FailingData extends ForwardingBackend {
      override put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
        if (key.startsWith('data/')) {
          return Promise.reject(new BackendError(`cannot write ${key}: disk full`));
        }
        return super.put(key, data, options);
      }
    }
    const repo = await initRepository(new FailingData(new MemoryBackend()), {
      chunker: TINY_CHUNKS,
    });
    // Some data, then a writer that stalls without closing: only the failed write can
    // end the backup.
    async function* stalled(): AsyncGenerator<Uint8Array> {
      yield pseudoRandomBytes(3000, 3); // a few chunks: fewer puts than run at once
      await new Promise(() => {});
    }
    const attempt = backup(repo, {
      paths: [],
      stdin: { filename: 'x', source: stalled() },
      statCacheDir: false,
    });
    await expect(attempt).rejects.toThrow(BackendError);
    await expect(attempt).rejects.toThrow('disk full');
    expect(await repo.snapshots.list()).toEqual([]);
  });

  it('records a name that is not UTF-8 as the text of its bytes, and finds it as parent', async () => {
    const { repo } = await localRepo();
    const filename = nameFromBytes(Buffer.from('db\xff.sql', 'latin1'));
    const first = await backup(repo, {
      paths: [],
      stdin: { filename, source: createReadStream(await pipeOf(Buffer.from('one'))) },
    });
    expect(first.snapshot.paths).toEqual(['stdin:db\\xff.sql']);
    const second = await backup(repo, {
      paths: [],
      stdin: { filename, source: createReadStream(await pipeOf(Buffer.from('two'))) },
    });
    expect(second.snapshot.parent).toBe(first.snapshotId);
  });

  it('refuses paths, filters and a bad name before anything is written', async () => {
    const { repo } = await localRepo();
    const src = await tempDir();
    const cases: [Parameters<typeof backup>[1], string][] = [
      [{ paths: [src], stdin: { filename: 'x' } }, 'a backup of standard input takes no paths'],
      [{ paths: [], stdin: { filename: 'a/b' } }, `--stdin-filename "a/b": name "a/b" holds '/'`],
      [{ paths: [], stdin: { filename: '' } }, '--stdin-filename "": empty name'],
      [{ paths: [], stdin: { filename: '..' } }, 'is not allowed'],
      [
        { paths: [], stdin: { filename: 'x' }, excludes: ['*.o'] },
        '--exclude has nothing to filter in a backup of standard input',
      ],
      [
        { paths: [], stdin: { filename: 'x' }, excludeCaches: true },
        '--exclude-caches has nothing to filter',
      ],
    ];
    for (const [options, message] of cases) {
      const attempt = backup(repo, options);
      await expect(attempt).rejects.toThrow(UsageError);
      await expect(attempt).rejects.toThrow(message);
    }
    expect(await repo.snapshots.list()).toEqual([]);
  });

  it('saves no snapshot when the stream cannot be read to its end', async () => {
    const { repo } = await localRepo();
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield pseudoRandomBytes(70_000, 2);
      throw Object.assign(new Error('read failed'), { code: 'EIO' });
    }
    const attempt = backup(repo, { paths: [], stdin: { filename: 'x', source: failing() } });
    await expect(attempt).rejects.toThrow(CairnError);
    await expect(attempt).rejects.toThrow('cannot read the stream: input/output error (EIO)');
    expect(await repo.snapshots.list()).toEqual([]);
  });
});
