/**
 * Directory scans for the backup walk (src/ops/dir-scan.ts, dir-scanner.ts): a scan
 * gives what `lstat` gives, child by child, on this thread and through the scan thread
 * of the compiled build; and a backup with the scan thread stores the same trees as
 * one without it, then finds the same changes.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { link, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type DirScan, PackedStat, scanDirectory, scannedStat } from '../../src/ops/dir-scan.js';
import { kindOf } from '../../src/ops/source-stat.js';
import { compiledModules } from '../helpers/compiled.js';
import { pseudoRandomBytes, tempDir, writeTree } from '../helpers/fs.js';

const FIELDS = [
  'mode',
  'nlink',
  'uid',
  'gid',
  'rdev',
  'size',
  'dev',
  'ino',
  'mtimeNs',
  'ctimeNs',
] as const;

/** A directory with one child of every kind a test can make, and a name that is not UTF-8. */
async function mixedDir(): Promise<{ dir: string; names: string[] }> {
  const dir = await tempDir();
  writeFileSync(join(dir, 'b-file'), 'content');
  mkdirSync(join(dir, 'a-dir'));
  symlinkSync('b-file', join(dir, 'c-link'));
  execFileSync('mkfifo', [join(dir, 'd-fifo')]);
  writeFileSync(Buffer.concat([Buffer.from(`${dir}/e-`), Buffer.from([0xff, 0xfe])]), 'bytes');
  // Before 1970 (Node's utimes takes no negative times).
  execFileSync('touch', ['-m', '-d', '@-1000.5', join(dir, 'b-file')]);
  return { dir, names: ['a-dir', 'b-file', 'c-link', 'd-fifo', 'e-\udcff\udcfe'] };
}

/** What the walk reads of a scanned child, next to `lstatSync`'s answer for it. */
function expectSameStat(scan: DirScan, i: number, path: string | Buffer): void {
  const packed = scannedStat(scan, i)!;
  const st = lstatSync(path, { bigint: true });
  for (const f of FIELDS) expect([f, packed[f]]).toEqual([f, st[f]]);
  expect(kindOf(packed)).toBe(kindOf(st));
}

describe('scanDirectory', () => {
  it('lists children in name order with the fields lstat gives, kinds and byte names included', async () => {
    const { dir, names } = await mixedDir();
    const scan = scanDirectory(dir);
    expect(scan.names).toEqual(names);
    expect([...scan.ok]).toEqual([1, 1, 1, 1, 1]);
    for (let i = 0; i < 4; i++) expectSameStat(scan, i, join(dir, names[i]!));
    expectSameStat(scan, 4, Buffer.concat([Buffer.from(`${dir}/e-`), Buffer.from([0xff, 0xfe])]));
    expect(['dir', 'file', 'symlink', 'fifo', 'file']).toEqual(
      names.map((_, i) => kindOf(scannedStat(scan, i)!)),
    );
    // An mtime before 1970 survives packing (signed), to the nanosecond.
    expect(scannedStat(scan, 1)!.mtimeNs).toBe(-1_000_500_000_000n);
  });

  it('throws what readdir throws for a directory that is not there', () => {
    expect(() => scanDirectory('/nonexistent/cairn-scan')).toThrow(/ENOENT/);
  });

  it('reads device and inode numbers back unsigned, and leaves a failed child to the walk', () => {
    const stats = new BigInt64Array(10);
    stats[6] = BigInt.asIntN(64, 2n ** 64n - 1n);
    stats[7] = BigInt.asIntN(64, 2n ** 63n + 5n);
    const packed = new PackedStat(stats, 0);
    expect(packed.dev).toBe(2n ** 64n - 1n);
    expect(packed.ino).toBe(2n ** 63n + 5n);
    const scan: DirScan = {
      names: ['gone', 'here'],
      stats: new BigInt64Array(20),
      ok: new Uint8Array([0, 1]),
    };
    expect(scannedStat(scan, 0)).toBeUndefined();
    expect(scannedStat(scan, 1)).toBeInstanceOf(PackedStat);
  });
});

type Cairn = typeof import('../../src/index.js') & typeof import('../../src/ops/dir-scanner.js');

/** The compiled library (its backup starts the scan thread). */
const compiled = () => compiledModules<Cairn>('ops/dir-scanner.js');

describe('the scan thread (compiled build)', () => {
  it('gives scans asked ahead or not, undefined for what cannot be listed, and survives stale ones', async () => {
    const cairn = await compiled();
    const { dir, names } = await mixedDir();
    const scanner = cairn.DirScanner.start()!;
    expect(scanner).toBeDefined();
    try {
      // No thread before anything is named ahead: the walk scans for itself.
      expect(await scanner.take(dir)).toBeUndefined();
      expect(await scanner.whenReady()).toBe(false);
      // More stale scans ahead than fit (directories that are never taken): the
      // oldest make room, and later takes still get answers.
      scanner.prefetch(Array.from({ length: 40 }, (_, i) => join(dir, `missing-${i}`)));
      // Until the thread has loaded, nothing is sent to it: the walk scans for itself,
      // even a directory that is there and was named ahead.
      scanner.prefetch([join(dir, 'a-dir')]);
      expect(await scanner.take(join(dir, 'a-dir'))).toBeUndefined();
      expect(await scanner.whenReady()).toBe(true);
      scanner.prefetch([join(dir, 'a-dir'), dir]);
      const scan = (await scanner.take(dir))!;
      expect(scan.names).toEqual(names);
      for (let i = 0; i < 4; i++) expectSameStat(scan, i, join(dir, names[i]!));
      expect((await scanner.take(join(dir, 'a-dir')))!.names).toEqual([]);
      expect(await scanner.take(join(dir, 'missing-39'))).toBeUndefined();
      expect(await scanner.take(join(dir, 'not-asked'))).toBeUndefined();
      writeFileSync(join(dir, 'a-dir', 'new'), 'x');
      expect((await scanner.take(join(dir, 'a-dir')))!.names).toEqual(['new']);
    } finally {
      await scanner.close();
    }
    // Closed: answers nothing, and the walk scans for itself.
    expect(await scanner.take(dir)).toBeUndefined();
  });

  it('backs up the same trees as the walk without it, and finds the same changes', async () => {
    const cairn = await compiled();
    const src = await tempDir();
    const spec: Record<string, Record<string, Record<string, Uint8Array> | Uint8Array>> = {};
    for (let d = 0; d < 30; d++) {
      const dir: Record<string, Record<string, Uint8Array> | Uint8Array> = {};
      for (let f = 0; f < 40; f++) dir[`f${f}`] = pseudoRandomBytes((f * 53) % 3000, d * 100 + f);
      dir.sub = { deep: pseudoRandomBytes(100, d), big: pseudoRandomBytes(70_000, d) };
      spec[`d${String(d).padStart(2, '0')}`] = dir;
    }
    await writeTree(src, spec);
    await link(join(src, 'd00', 'f1'), join(src, 'd01', 'hard'));
    symlinkSync('../d00', join(src, 'd02', 'up'));
    writeFileSync(
      Buffer.concat([Buffer.from(`${src}/d03/`), Buffer.from([0xc3, 0x28])]),
      'bad utf-8',
    );
    await new Promise((r) => setTimeout(r, 150)); // past the stat cache's "too recent" margin

    const repos = [] as Awaited<ReturnType<Cairn['initRepository']>>[];
    for (let i = 0; i < 2; i++) {
      repos.push(
        await cairn.initRepository(
          new cairn.LocalBackend(await tempDir('cairn-repo-'), { fsync: false }),
          {
            chunker: { min: 4096, avg: 16384, max: 65536, level: 1 },
            inlineMax: 2048,
          },
        ),
      );
    }
    const caches = [await tempDir(), await tempDir()];
    // Worker threads on (the scan thread runs) and off (the walk lists and lstats).
    const run = (i: number, excludes: string[] = []) =>
      cairn.backup(repos[i]!, {
        paths: [src],
        statCacheDir: caches[i]!,
        workers: i === 0 ? 2 : 0,
        excludes,
      });
    const scanStarts = countScanners(cairn);
    onTestFinished(() => scanStarts.restore());
    const [a, b] = [await run(0), await run(1)];
    expect(scanStarts.count).toBe(1);
    // At most every directory's listing came from it (30, and their 30 subdirectories)
    // but the root's: the thread starts once the walk names directories ahead, and the
    // walk scans for itself until the thread has loaded.
    expect(scanStarts.scans).toBeLessThanOrEqual(60);
    expect(a.snapshot.summary.errors).toBe(0);
    expect(a.snapshot.tree).toBe(b.snapshot.tree);
    expect(a.snapshot.summary.files).toBe(30 * 42 + 2);

    // Nothing changed: every file vouched for by the stat cache.
    const again = await run(0);
    expect(again.snapshot.tree).toBe(a.snapshot.tree);
    expect(again.snapshot.summary.filesUnchanged).toBe(again.snapshot.summary.files);
    expect(again.bytesRead).toBe(0);

    // One file changed, one directory gone, one excluded: both walks agree.
    await writeFile(join(src, 'd07', 'sub', 'deep'), 'changed');
    await rm(join(src, 'd09'), { recursive: true });
    await new Promise((r) => setTimeout(r, 150));
    const [c, d] = [await run(0, ['d1*']), await run(1, ['d1*'])];
    expect(c.snapshot.tree).toBe(d.snapshot.tree);
    expect(c.snapshot.tree).not.toBe(a.snapshot.tree);
    expect(c.snapshot.summary.filesChanged).toBe(1);
    expect(c.snapshot.summary.files).toBe(19 * 42 + 2);
  });
});

/**
 * Counts scan threads the compiled build's backups start, and the scans their walks got
 * from them (a scan the walk made itself does not count).
 */
function countScanners(cairn: Cairn): { count: number; scans: number; restore(): void } {
  const start = cairn.DirScanner.start;
  const proto = cairn.DirScanner.prototype;
  const take = proto.take;
  const counter = {
    count: 0,
    scans: 0,
    restore: () => {
      cairn.DirScanner.start = start;
      proto.take = take;
    },
  };
  cairn.DirScanner.start = () => {
    counter.count++;
    return start();
  };
  proto.take = async function (this: typeof proto, at: string) {
    const scan = await take.call(this, at);
    if (scan) counter.scans++;
    return scan;
  };
  return counter;
}
