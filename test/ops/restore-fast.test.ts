import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { modeSurvivesCreate, writevAll } from '../../src/ops/restore-fs.js';
import {
  describeTree,
  pseudoRandomBytes,
  setMtime,
  tempDir,
  tempsBelow,
  writeTree,
} from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

const isRoot = process.getuid?.() === 0;

describe('restore into a new directory (synchronous small files)', () => {
  it('gives every small file its content, mode and mtime, and leaves no temporaries', async () => {
    const { repo } = await localRepo({ inlineMax: 4096 });
    const src = await tempDir();
    await writeTree(src, {
      'empty.txt': '',
      'small.txt': 'hello',
      'ro.txt': 'read only',
      'private.txt': 'secret',
      'setuid.bin': 'x',
      sub: { 'a.txt': 'a'.repeat(3000), link: { link: '../small.txt' }, deeper: { 'b.txt': 'b' } },
    });
    await chmod(join(src, 'ro.txt'), 0o444);
    await chmod(join(src, 'private.txt'), 0o600);
    await chmod(join(src, 'setuid.bin'), 0o4755);
    await chmod(join(src, 'sub', 'a.txt'), 0o640);
    await chmod(join(src, 'empty.txt'), 0o777);
    for (const f of ['empty.txt', 'small.txt', 'ro.txt', 'private.txt', 'setuid.bin'])
      await setMtime(join(src, f), 1_600_000_000 + f.length);
    await setMtime(join(src, 'sub', 'a.txt'), 1_500_000_123);
    if (isRoot) await chown(join(src, 'private.txt'), 1234, 5678);
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });

    const target = join(await tempDir(), 'new');
    const s = await restore(repo, snapshotId!, snapshot, { target });
    expect(s.errors).toBe(0);
    expect(s.files).toBe(7);
    expect(s.symlinks).toBe(1);
    expect(await describeTree(target)).toEqual(await describeTree(src));
    expect(await tempsBelow(target)).toEqual([]);
    if (isRoot) {
      const st = await stat(join(target, 'private.txt'));
      expect([st.uid, st.gid]).toEqual([1234, 5678]);
      const own = await stat(join(target, 'small.txt'));
      expect([own.uid, own.gid]).toEqual([0, 0]);
    }
  });

  it('restores large files in batches, with holes, and into an existing empty target', async () => {
    const { repo } = await localRepo({
      chunker: { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024, level: 1 },
    });
    const src = await tempDir();
    // More than one write batch (1 MiB), a run of zeros in the middle, a zero tail.
    const big = Buffer.concat([
      pseudoRandomBytes(1_700_000, 1),
      Buffer.alloc(900_000),
      pseudoRandomBytes(600_000, 2),
      Buffer.alloc(300_000),
    ]);
    await writeFile(join(src, 'big.bin'), big);
    await writeFile(join(src, 'medium.bin'), pseudoRandomBytes(200_000, 3));
    await chmod(join(src, 'big.bin'), 0o751);
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });

    const target = await tempDir(); // exists, empty
    const s = await restore(repo, snapshotId!, snapshot, { target });
    expect(s.errors).toBe(0);
    expect(await describeTree(target)).toEqual(await describeTree(src));
    expect(await tempsBelow(target)).toEqual([]);
    // Restoring again over it is a no-op that still works (not a new directory any more).
    const again = await restore(repo, snapshotId!, snapshot, { target });
    expect(again.filesUnchanged).toBe(2);
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });

  it('an existing directory takes the checked path: stale file replaced, directory in the way a warning', async () => {
    const { repo } = await localRepo({ inlineMax: 4096 });
    const src = await tempDir();
    await writeTree(src, { d: { 'a.txt': 'A', 'b.txt': 'B' } });
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const target = await tempDir();
    await mkdir(join(target, 'd'));
    await writeFile(join(target, 'd', 'a.txt'), 'stale');
    await mkdir(join(target, 'd', 'b.txt'));
    const s = await restore(repo, snapshotId!, snapshot, { target });
    expect(s.errors).toBe(1); // b.txt: a directory is in the way (no --delete)
    const want = (await describeTree(join(src, 'd'))).find((l) => l.startsWith('f a.txt '));
    expect(await describeTree(join(target, 'd'))).toContain(want);
  });
});

describe('writevAll', () => {
  it('finishes a short vectored write part by part at the right positions', async () => {
    const file = Buffer.alloc(64);
    const calls: string[] = [];
    const fh = {
      async writev(parts: Uint8Array[], position: number) {
        // Writes only the first 5 bytes, then stops (a short write).
        const all = Buffer.concat(parts);
        all.copy(file, position, 0, 5);
        calls.push(`writev@${position}`);
        return { bytesWritten: 5, buffers: parts };
      },
      async write(data: Uint8Array, offset: number, length: number, position: number) {
        const n = Math.min(length, 3); // short writes here too
        Buffer.from(data.buffer, data.byteOffset + offset, n).copy(file, position);
        calls.push(`write@${position}`);
        return { bytesWritten: n, buffer: data };
      },
    };
    const parts = [Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ijklmnop')];
    await writevAll(fh as never, parts, 10);
    expect(file.subarray(10, 26).toString()).toBe('abcdefghijklmnop');
    expect(file.subarray(0, 10).every((b) => b === 0)).toBe(true);
    expect(calls[0]).toBe('writev@10');
    expect(calls[1]).toBe('write@15'); // the rest of 'defgh'
  });
});

describe('modeSurvivesCreate', () => {
  it('is false for special bits and for bits the umask clears', () => {
    expect(modeSurvivesCreate(0o4755)).toBe(false);
    expect(modeSurvivesCreate(0o1777)).toBe(false);
    const m = /^Umask:\s+([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    const umask = m ? Number.parseInt(m[1]!, 8) : undefined;
    if (umask === undefined) {
      expect(modeSurvivesCreate(0o644)).toBe(false); // unknown umask: always chmod
    } else {
      expect(modeSurvivesCreate(0o777 & ~umask)).toBe(true);
      if (umask !== 0) expect(modeSurvivesCreate(0o777)).toBe(false);
    }
  });
});
