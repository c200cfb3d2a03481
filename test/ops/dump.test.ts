/**
 * Tar headers and the checks `dump` makes on what it reads: headers that only a pax
 * record can hold (long paths and link targets, sizes of 8 GiB and more, large ids,
 * times before 1970 or with nanoseconds, names that are not UTF-8) read back as written
 * with Python's tarfile (a reader of its own, not ours); a file whose chunks do not add
 * up to its size, or a chunk of another length than its tree says, stops the dump
 * before a wrong byte is written.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, IntegrityError } from '../../src/core/errors.js';
import type { FileEntry } from '../../src/manifest/types.js';
import { fileBytes, tarOf } from '../../src/ops/dump.js';
import { type TarHeader, tarEnd, tarHeaderBlocks } from '../../src/ops/tar.js';
import { fileEntry } from '../helpers/entries.js';
import { tempDir } from '../helpers/fs.js';
import { memoryRepo } from '../helpers/repo.js';

/** What Python's tarfile reads from the first member of `archive`. */
async function readBack(archive: Uint8Array): Promise<Record<string, unknown>> {
  const file = join(await tempDir(), 'h.tar');
  await writeFile(file, archive);
  const script = `
import json, sys, tarfile
with open(sys.argv[1], 'rb') as f:
    t = tarfile.open(fileobj=f, mode='r:', encoding='utf-8', errors='surrogateescape')
    m = t.next()
    print(json.dumps({'name': m.name.encode('utf-8', 'surrogateescape').hex(), 'size': m.size,
        'uid': m.uid, 'gid': m.gid, 'mtime': str(m.pax_headers.get('mtime', m.mtime)),
        'mode': m.mode, 'type': m.type.decode(),
        'linkname': m.linkname.encode('utf-8', 'surrogateescape').hex()}))
`;
  return JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8' }));
}

const base: TarHeader = {
  kind: 'file',
  path: Buffer.from('a.txt'),
  mode: 0o640,
  uid: 1000,
  gid: 100,
  size: 0,
  mtime: { sec: 1_700_000_000, nsec: 0 },
};

describe('tar headers', () => {
  it('holds plain fields in the ustar header alone', async () => {
    const blocks = tarHeaderBlocks(base);
    expect(blocks.length).toBe(512);
    expect(await readBack(Buffer.concat([blocks, tarEnd()]))).toMatchObject({
      name: Buffer.from('a.txt').toString('hex'),
      size: 0,
      uid: 1000,
      gid: 100,
      mtime: '1700000000',
      mode: 0o640,
      type: '0',
    });
  });

  it('puts what does not fit into a pax record, and it reads back exactly', async () => {
    const long = Buffer.from(`${'d'.repeat(80)}/${'f'.repeat(80)}`);
    const odd = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9])]);
    const cases: [TarHeader, Record<string, unknown>][] = [
      [{ ...base, path: long }, { name: long.toString('hex') }],
      [{ ...base, size: 10 * 2 ** 30 }, { size: 10 * 2 ** 30 }],
      [
        { ...base, uid: 3_000_000, gid: 4_000_000 },
        { uid: 3_000_000, gid: 4_000_000 },
      ],
      [{ ...base, mtime: { sec: 1_700_000_000, nsec: 5 } }, { mtime: '1700000000.000000005' }],
      [{ ...base, mtime: { sec: -2, nsec: 250_000_000 } }, { mtime: '-1.750000000' }],
      [{ ...base, mtime: { sec: -86_400, nsec: 0 } }, { mtime: '-86400' }],
      [{ ...base, path: odd }, { name: odd.toString('hex') }],
      [
        { ...base, kind: 'symlink', linkpath: Buffer.from('t'.repeat(150)) },
        { type: '2', linkname: Buffer.from('t'.repeat(150)).toString('hex') },
      ],
      [
        { ...base, kind: 'dir', path: Buffer.from('sub') },
        { type: '5', name: Buffer.from('sub').toString('hex') },
      ],
    ];
    for (const [header, expected] of cases) {
      const blocks = tarHeaderBlocks(header);
      expect(blocks.length % 512).toBe(0);
      const read = await readBack(Buffer.concat([blocks, tarEnd()]));
      expect(read, JSON.stringify(expected)).toMatchObject(expected);
    }
  });
});

/** A file entry of `size` bytes made of `chunks` (which may disagree with it). */
function withChunks(size: number, chunks: FileEntry['chunks']): FileEntry {
  return { ...(fileEntry('f') as FileEntry), size, chunks };
}

describe('dump checks', () => {
  it('refuses a file whose chunks do not add up to its size, before writing', async () => {
    const repo = await memoryRepo();
    const { id } = await repo.blobs.put('data', Buffer.from('0123456789'));
    const entry = withChunks(11, [{ id, size: 10 }]);
    const written: Uint8Array[] = [];
    const tar = async () => {
      for await (const piece of tarOf(repo, { entry, path: 'f' })) written.push(piece);
    };
    await expect(tar()).rejects.toThrow(FormatError);
    await expect(tar()).rejects.toThrow('f: its size is 11 but its content holds 10 bytes');
    expect(written).toEqual([]);
  });

  it('refuses a chunk of another length than its tree says', async () => {
    const repo = await memoryRepo();
    const { id } = await repo.blobs.put('data', Buffer.from('0123456789'));
    const entry = withChunks(12, [{ id, size: 12 }]);
    const read = async () => {
      for await (const _ of fileBytes(repo, entry, 'dir/f')) {
        // nothing is yielded before the check fails
      }
    };
    await expect(read()).rejects.toThrow(IntegrityError);
    await expect(read()).rejects.toThrow(
      `dir/f: chunk ${id} holds 10 bytes where its tree says 12`,
    );
    // In a tar, the header went out: the archive stops there, without its end blocks.
    const pieces: Uint8Array[] = [];
    const tar = async () => {
      for await (const piece of tarOf(repo, { entry, path: 'dir/f' })) pieces.push(piece);
    };
    await expect(tar()).rejects.toThrow(IntegrityError);
    expect(Buffer.concat(pieces).length).toBe(512);
  });

  it('leaves out, with a reason, a device whose numbers a tar header cannot hold', async () => {
    const repo = await memoryRepo();
    const device = (rdev: number) => ({
      kind: 'chardev' as const,
      name: 'dev',
      mode: 0o600,
      uid: 0,
      gid: 0,
      mtime: { sec: 0, nsec: 0 },
      rdev,
    });
    const skips: string[] = [];
    const onSkip = (s: { reason: string }) => skips.push(s.reason);
    const tarred = async (rdev: number) => {
      const out: Uint8Array[] = [];
      const entry = device(rdev);
      for await (const p of tarOf(repo, { entry, path: 'dev' }, { onSkip })) out.push(p);
      return Buffer.concat(out).length;
    };
    expect(await tarred(0x0103)).toBe(512 + 1024); // major 1, minor 3: header and end
    expect(skips).toEqual([]);
    expect(await tarred(2 ** 32 * 0x400000)).toBe(1024); // major 2^30: only the end
    expect(skips).toEqual(['a device number too large for a tar header']);
  });
});
