import { chmod, link, lstat, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CountingBackend } from '../../src/backends/counting.js';
import type { Snapshot } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { diffTrees } from '../../src/ops/diff.js';
import { restore } from '../../src/ops/restore.js';
import { openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { mutateToV2, writeBuildV1 } from '../helpers/build-tree.js';
import { describeTree, tempDir } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

const CHUNKS = { min: 2048, avg: 8192, max: 32768, level: 1 };

async function twoVersions() {
  const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 256 });
  const src = await tempDir();
  await writeBuildV1(src);
  const v1 = await backup(repo, { paths: [src], tags: ['v1'], statCacheDir: false });
  await mutateToV2(src);
  const v2 = await backup(repo, { paths: [src], tags: ['v2'], statCacheDir: false });
  // bytes of v2 content in chunks v1 lacks = what an ideal update fetches
  let newBytes = 0;
  for await (const d of diffTrees(repo, v1.snapshot.tree, v2.snapshot.tree)) {
    if (d.kind !== 'file') continue;
    if (d.change === 'modified') newBytes += d.changedBytes ?? 0;
    if (d.change === 'added') newBytes += d.sizeAfter ?? 0;
  }
  return {
    repo,
    src,
    v1: { id: v1.snapshotId!, s: v1.snapshot },
    v2: { id: v2.snapshotId!, s: v2.snapshot },
    newBytes,
  };
}

describe('restore over an existing tree', () => {
  it('fetches only what is new, leaves matching files untouched, and equals a clean restore', async () => {
    const { repo, src, v1, v2, newBytes } = await twoVersions();
    const target = await tempDir();
    await restore(repo, v1.id, v1.s, { target });
    const vendorBefore = await stat(join(target, 'vendor.bundle.js'));

    const counting = new CountingBackend(repo.backend);
    const viaCounter = await openRepositoryIn(counting);
    counting.reset();
    const s = await restore(viaCounter, v2.id, v2.s, { target, delete: true });
    expect(s.errors).toBe(0);
    // the moved file is rebuilt from its old local copy, the edited bundle mostly too
    expect(s.bytesFetched).toBeLessThanOrEqual(newBytes * 1.1);
    expect(s.bytesFetched).toBeGreaterThan(0);
    expect(s.bytesReused).toBeGreaterThan(600_000);
    expect(s.filesUnchanged).toBeGreaterThanOrEqual(20);
    // untouched means untouched: same inode, same mtime
    const vendorAfter = await stat(join(target, 'vendor.bundle.js'));
    expect(vendorAfter.ino).toBe(vendorBefore.ino);
    expect(s.deleted).toBe(2); // lib/old-module.js and lib/moved.js
    const dataRead = counting.counts.bytesIn;
    expect(dataRead).toBeLessThanOrEqual(newBytes * 1.1 + 50_000); // + tree nodes and envelopes

    const clean = await tempDir();
    await restore(repo, v2.id, v2.s, { target: clean });
    expect(await describeTree(target)).toEqual(await describeTree(clean));
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });

  it('reuses chunks from --seed directories', async () => {
    const { repo, v1, v2, newBytes } = await twoVersions();
    const seed = await tempDir();
    await restore(repo, v1.id, v1.s, { target: seed });
    const target = await tempDir();
    const s = await restore(repo, v2.id, v2.s, { target, seeds: [seed] });
    expect(s.bytesFetched).toBeLessThanOrEqual(newBytes * 1.1);
    expect(s.bytesReused).toBeGreaterThan(900_000);
    const clean = await tempDir();
    await restore(repo, v2.id, v2.s, { target: clean });
    expect(await describeTree(target)).toEqual(await describeTree(clean));
  });

  it('--dry-run reports what would be fetched, reused and deleted, and changes nothing', async () => {
    const { repo, v1, v2 } = await twoVersions();
    const target = await tempDir();
    await restore(repo, v1.id, v1.s, { target });
    const before = await describeTree(target);
    const dry = await restore(repo, v2.id, v2.s, { target, delete: true, dryRun: true });
    expect(await describeTree(target)).toEqual(before);
    const real = await restore(repo, v2.id, v2.s, { target, delete: true });
    expect(dry.deleted).toBe(real.deleted);
    expect(dry.filesUnchanged).toBe(real.filesUnchanged);
    // a dry run counts every chunk it would not find locally
    expect(dry.bytesFetched).toBeGreaterThanOrEqual(real.bytesFetched);
    expect(dry.bytesFetched + dry.bytesReused).toBe(real.bytesFetched + real.bytesReused);
  });

  it('keeps extra files without --delete, and existing files with overwrite: never', async () => {
    const { repo, v1, v2 } = await twoVersions();
    const target = await tempDir();
    await restore(repo, v1.id, v1.s, { target });
    await writeFile(join(target, 'VERSION'), 'local edit\n');
    const s = await restore(repo, v2.id, v2.s, { target, overwrite: 'never' });
    expect(s.filesSkipped).toBeGreaterThan(0);
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(join(target, 'VERSION'), 'utf8')).toBe('local edit\n');
    expect(await readdir(join(target, 'lib'))).toContain('old-module.js'); // not deleted
    await lstat(join(target, 'assets', 'new-image.bin')); // new files still arrive
  });

  it('overwrite: never keeps whatever holds a name, a file where a directory goes too', async () => {
    const { repo, v2 } = await twoVersions();
    const target = await tempDir();
    await writeFile(join(target, 'lib'), 'a file where the snapshot has a directory\n');
    await mkdir(join(target, 'VERSION'));
    await writeFile(join(target, 'VERSION', 'in'), 'x');
    const libFiles = (await readdir(join(await tempDirOf(repo, v2), 'lib'))).length;
    for (const del of [false, true]) {
      const s = await restore(repo, v2.id, v2.s, { target, overwrite: 'never', delete: del });
      expect(s.errors).toBe(0);
      // Before, with --delete the file was removed and the directory restored in its place.
      expect((await lstat(join(target, 'lib'))).isFile()).toBe(true);
      expect((await lstat(join(target, 'VERSION', 'in'))).isFile()).toBe(true);
      expect(s.filesSkipped).toBeGreaterThanOrEqual(1 + libFiles);
    }
  });

  it('replaces a directory in the way only with delete', async () => {
    const { repo, v2 } = await twoVersions();
    const target = await tempDir();
    await mkdir(join(target, 'VERSION'));
    await writeFile(join(target, 'VERSION', 'x'), 'x');
    const warnings: string[] = [];
    const s = await restore(repo, v2.id, v2.s, {
      target,
      onEvent: (e) => e.type === 'warning' && warnings.push(e.message),
    });
    expect(s.errors).toBe(1);
    expect(warnings[0]).toMatch(/directory is in the way/);
    const s2 = await restore(repo, v2.id, v2.s, { target, delete: true });
    expect(s2.errors).toBe(0);
    expect((await lstat(join(target, 'VERSION'))).isFile()).toBe(true);
  });
});

describe('leftovers of an interrupted restore', () => {
  it('a restore over the target removes temporary files a killed restore left', async () => {
    const { repo, v1 } = await twoVersions();
    const target = await tempDir();
    await restore(repo, v1.id, v1.s, { target });
    await writeFile(join(target, '.cairn-tmp-0123456789abcdef'), 'half a file');
    await writeFile(join(target, 'lib', '.cairn-tmp-fedcba9876543210'), 'half');
    const s = await restore(repo, v1.id, v1.s, { target });
    expect(s.errors).toBe(0);
    expect((await readdir(target)).some((n) => n.startsWith('.cairn-tmp-'))).toBe(false);
    expect((await readdir(join(target, 'lib'))).some((n) => n.startsWith('.cairn-tmp-'))).toBe(
      false,
    );
  });

  it("leaves alone names that only look like a restore's: the snapshot's own and the user's", async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 256 });
    const src = await tempDir();
    // In the snapshot: a folder and a file with the prefix, one of them of a
    // temporary's exact shape.
    await mkdir(join(src, '.cairn-tmp-data'));
    await writeFile(join(src, '.cairn-tmp-data', 'file'), 'precious');
    await writeFile(join(src, '.cairn-tmp-00000000000000aa'), 'kept too');
    await writeFile(join(src, 'normal'), 'x');
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const want = await describeTree(src);
    for (const deleting of [false, true]) {
      const target = await tempDir();
      await mkdir(join(target, '.cairn-tmp-my-notes'));
      await writeFile(join(target, '.cairn-tmp-my-notes', 'todo'), 'mine');
      await writeFile(join(target, '.cairn-tmp-0123456789abcdef'), 'half a file');
      // Over a target holding other things, then again over the restored tree.
      for (let round = 0; round < 2; round++) {
        const s = await restore(repo, snapshotId!, snapshot, { target, delete: deleting });
        expect(s.errors).toBe(0);
        const names = await readdir(target);
        expect(names).toContain('.cairn-tmp-data');
        expect(names).toContain('.cairn-tmp-00000000000000aa');
        // A leftover of a restore's exact shape goes; the user's folder goes only with delete.
        expect(names).not.toContain('.cairn-tmp-0123456789abcdef');
        expect(names.includes('.cairn-tmp-my-notes')).toBe(!deleting);
      }
      await rm(join(target, '.cairn-tmp-my-notes'), { recursive: true, force: true });
      expect(await describeTree(target)).toEqual(want);
    }
  });
});

describe('a dry run of a sparse file', () => {
  it('counts the holes as the real run does: the zero chunk fetched once, then reused', async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 256 });
    const src = await tempDir();
    const data = Buffer.concat([Buffer.alloc(3_000_000), Buffer.from('tail'.repeat(5000))]);
    await writeFile(join(src, 'sparse.img'), data);
    const b = await backup(repo, { paths: [src], statCacheDir: false });
    const target = await tempDir();
    const dry = await restore(repo, b.snapshotId!, b.snapshot, { target, dryRun: true });
    const real = await restore(repo, b.snapshotId!, b.snapshot, { target, workers: 0 });
    // Before, the dry run said every hole would be fetched (3 MB against 32 KiB).
    expect(dry.bytesFetched).toBeLessThan(100_000);
    expect({ fetched: dry.bytesFetched, reused: dry.bytesReused }).toEqual({
      fetched: real.bytesFetched,
      reused: real.bytesReused,
    });
  });
});

describe('hard links restored over themselves', () => {
  it('are left in place when already linked, and linked again where a member was replaced', async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 256 });
    const src = await tempDir();
    await mkdir(join(src, 'dir'));
    await writeFile(join(src, 'a'), 'small shared content\n'); // inline
    await link(join(src, 'a'), join(src, 'dir', 'a2'));
    await writeFile(join(src, 'big'), Buffer.alloc(100_000, 7)); // chunked
    await link(join(src, 'big'), join(src, 'big2'));
    const b = await backup(repo, { paths: [src], statCacheDir: false });
    const target = await tempDir();
    await restore(repo, b.snapshotId!, b.snapshot, { target });
    const ino = async (name: string) => (await stat(join(target, name))).ino;
    expect(await ino('dir/a2')).toBe(await ino('a'));
    expect(await ino('big2')).toBe(await ino('big'));

    // Again over itself: nothing is written (before, every hard link was rewritten).
    const before = { a: await ino('a'), big: await ino('big') };
    const again = await restore(repo, b.snapshotId!, b.snapshot, { target });
    expect(again.filesUnchanged).toBe(4);
    expect(await ino('a')).toBe(before.a);
    expect(await ino('dir/a2')).toBe(before.a);
    expect(await ino('big2')).toBe(before.big);

    // A member replaced by a copy (same bytes, its own inode) is linked again.
    await rm(join(target, 'big2'));
    await writeFile(join(target, 'big2'), Buffer.alloc(100_000, 7));
    const relinked = await restore(repo, b.snapshotId!, b.snapshot, { target });
    expect(relinked.filesUnchanged).toBe(3);
    expect(await ino('big2')).toBe(await ino('big'));
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });
});

describe('files in the target that share an inode the snapshot does not share', () => {
  it('get their own inode when their metadata differs, and other names keep theirs', async () => {
    const { repo } = await localRepo({ chunker: CHUNKS, inlineMax: 256 });
    const src = await tempDir();
    await writeFile(join(src, 'a'), 'same content\n'); // inline
    await writeFile(join(src, 'b'), 'same content\n');
    await writeFile(join(src, 'big'), Buffer.alloc(100_000, 3)); // chunked
    await chmod(join(src, 'a'), 0o644);
    await chmod(join(src, 'b'), 0o600);
    await chmod(join(src, 'big'), 0o640);
    const b = await backup(repo, { paths: [src], statCacheDir: false });
    // The target holds a and b as one inode; big is linked from outside (a `cp -al`).
    const target = await tempDir();
    const outside = await tempDir();
    await writeFile(join(target, 'a'), 'same content\n');
    await chmod(join(target, 'a'), 0o644);
    await link(join(target, 'a'), join(target, 'b'));
    await writeFile(join(outside, 'big'), Buffer.alloc(100_000, 3));
    await chmod(join(outside, 'big'), 0o644);
    await link(join(outside, 'big'), join(target, 'big'));
    for (let round = 0; round < 2; round++) {
      await restore(repo, b.snapshotId!, b.snapshot, { target });
      const mode = async (p: string) => (await stat(p)).mode & 0o777;
      expect(await mode(join(target, 'a'))).toBe(0o644);
      expect(await mode(join(target, 'b'))).toBe(0o600);
      expect(await mode(join(target, 'big'))).toBe(0o640);
      expect(await mode(join(outside, 'big'))).toBe(0o644);
      expect((await stat(join(target, 'a'))).ino).not.toBe((await stat(join(target, 'b'))).ino);
    }
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });
});

/** A clean restore of `v` into a new folder (to count what the snapshot holds). */
async function tempDirOf(repo: Repository, v: { id: string; s: Snapshot }): Promise<string> {
  const dir = await tempDir();
  await restore(repo, v.id, v.s, { target: dir });
  return dir;
}
