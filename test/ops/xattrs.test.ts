/**
 * Extended attributes through backup, restore, diff and dump (src/core/xattrs.ts,
 * src/ops/restore-xattrs.ts): recorded for every kind of entry, set again on restore
 * after chown (file capabilities), kept apart by the stat cache, compared by diff.
 * They need cairn's native module (`npm run build` makes it), which the tests require:
 * a build that lacks it fails here rather than passing without testing anything.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  readXattrs,
  removeXattr,
  setXattr,
  xattrUnsupportedReason,
} from '../../src/core/xattrs.js';
import { backup } from '../../src/ops/backup.js';
import { diffTrees } from '../../src/ops/diff.js';
import { tarOf } from '../../src/ops/dump.js';
import type { BackupEvent, RestoreEvent } from '../../src/ops/events.js';
import { restore } from '../../src/ops/restore.js';
import { findEntry } from '../../src/ops/snapshot-path.js';
import { compiledModules } from '../helpers/compiled.js';
import { describeTree, pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

const isRoot = process.getuid?.() === 0;
const set = (path: string, name: string, value: string | Uint8Array) =>
  setXattr(path, { name, value: typeof value === 'string' ? Buffer.from(value) : value });
/** `name=value` lines of a path's attributes. */
const attrsOf = (path: string) =>
  readXattrs(path).map((a) => `${a.name}=${Buffer.from(a.value).toString('hex')}`);

/** An entry's attributes as `name=text` (decoded values are Uint8Arrays, not Buffers). */
const recorded = (e: { xattrs?: { name: string; value: Uint8Array }[] } | undefined) =>
  e?.xattrs?.map((a) => `${a.name}=${Buffer.from(a.value).toString()}`);

/** A file capability (VFS_CAP_REVISION_2, effective): cap_net_raw (bit 13) permitted. */
const CAP_NET_RAW = Buffer.from([
  0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

beforeAll(() => {
  const reason = xattrUnsupportedReason();
  if (reason) throw new Error(`the native module is needed for these tests: ${reason}`);
});

/** A source tree with attributes on every kind of entry, and the snapshot of it. */
async function sourceWithAttributes() {
  const src = await tempDir();
  await mkdir(join(src, 'dir'));
  await writeFile(join(src, 'small'), 'small file');
  await writeFile(join(src, 'large'), pseudoRandomBytes(200_000, 3));
  await writeFile(join(src, 'plain'), 'no attributes');
  await writeFile(join(src, 'read-only'), 'mode 444');
  await symlink('small', join(src, 'link'));
  set(join(src, 'small'), 'user.comment', 'a small one');
  set(join(src, 'small'), 'user.binary', Uint8Array.of(0, 255, 10, 0));
  set(join(src, 'small'), 'user.empty', '');
  set(join(src, 'large'), 'user.big', 'chunked');
  set(join(src, 'dir'), 'user.dir', 'on a directory');
  set(join(src, 'read-only'), 'user.ro', 'set before chmod');
  await chmod(join(src, 'read-only'), 0o444);
  if (isRoot) {
    set(join(src, 'link'), 'trusted.link', 'on the symlink itself');
    set(join(src, 'small'), 'security.capability', CAP_NET_RAW);
  }
  return src;
}

describe('extended attributes', () => {
  it('are recorded for files, directories and symlinks and restored exactly', async () => {
    const src = await sourceWithAttributes();
    const { repo } = await localRepo();
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const small = await findEntry(repo, snapshot.tree, ['small']);
    expect(small?.xattrs?.map((a) => a.name)).toEqual([
      ...(isRoot ? ['security.capability'] : []),
      'user.binary',
      'user.comment',
      'user.empty',
    ]);
    expect((await findEntry(repo, snapshot.tree, ['plain']))?.xattrs).toBeUndefined();

    const target = await tempDir();
    const summary = await restore(repo, snapshotId!, snapshot, { target });
    expect(summary.errors).toBe(0);
    for (const name of ['small', 'large', 'dir', 'plain', 'read-only', 'link']) {
      expect(attrsOf(join(target, name)), name).toEqual(attrsOf(join(src, name)));
    }
    expect(attrsOf(join(target, 'dir'))).toEqual([
      `user.dir=${Buffer.from('on a directory').toString('hex')}`,
    ]);
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });

  it.skipIf(!isRoot)('keep a file capability through the chown of a restore (root)', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'ping'), 'pretend binary');
    await chown(join(src, 'ping'), 1234, 5678);
    await chmod(join(src, 'ping'), 0o4755);
    set(join(src, 'ping'), 'security.capability', CAP_NET_RAW);
    // A larger one, rebuilt from chunks (another writer).
    await writeFile(join(src, 'tool'), pseudoRandomBytes(300_000, 4));
    await chown(join(src, 'tool'), 1234, 5678);
    set(join(src, 'tool'), 'security.capability', CAP_NET_RAW);
    const { repo } = await localRepo();
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const target = await tempDir();
    await restore(repo, snapshotId!, snapshot, { target });
    for (const name of ['ping', 'tool']) {
      // chown clears security.capability: set after it, it is there.
      expect(attrsOf(join(target, name))).toEqual([
        `security.capability=${CAP_NET_RAW.toString('hex')}`,
      ]);
      expect(execFileSync('getcap', [join(target, name)], { encoding: 'utf8' })).toContain(
        'cap_net_raw=ep',
      );
    }
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });

  it('are left alone with xattrs: false, in backup and in restore', async () => {
    const src = await sourceWithAttributes();
    const { repo } = await localRepo();
    const without = await backup(repo, { paths: [src], statCacheDir: false, xattrs: false });
    expect((await findEntry(repo, without.snapshot.tree, ['small']))?.xattrs).toBeUndefined();
    expect((await findEntry(repo, without.snapshot.tree, ['dir']))?.xattrs).toBeUndefined();

    const withThem = await backup(repo, { paths: [src], statCacheDir: false });
    const target = await tempDir();
    await restore(repo, withThem.snapshotId!, withThem.snapshot, { target, xattrs: false });
    expect(attrsOf(join(target, 'small'))).toEqual([]);
    expect(attrsOf(join(target, 'dir'))).toEqual([]);
  });

  it('are read again when they change: a file (by ctime or digest), a directory, a symlink', async () => {
    const src = await tempDir();
    await mkdir(join(src, 'dir'));
    await writeFile(join(src, 'dir', 'f'), 'content');
    await symlink('f', join(src, 'dir', 'link'));
    const cache = await tempDir();
    const { repo } = await localRepo();
    const first = await backup(repo, { paths: [src], statCacheDir: cache });

    set(join(src, 'dir', 'f'), 'user.tag', 'one');
    const second = await backup(repo, { paths: [src], statCacheDir: cache });
    expect(second.snapshot.summary.filesChanged).toBe(1);
    expect(recorded(await findEntry(repo, second.snapshot.tree, ['dir', 'f']))).toEqual([
      'user.tag=one',
    ]);
    expect(second.snapshot.tree).not.toBe(first.snapshot.tree);

    // Without ctime in the fingerprint, a digest of the attributes sees the change.
    const ignoring = { paths: [src], statCacheDir: cache, ignoreCtime: true };
    await backup(repo, ignoring);
    set(join(src, 'dir', 'f'), 'user.tag', 'two');
    const third = await backup(repo, ignoring);
    expect(recorded(await findEntry(repo, third.snapshot.tree, ['dir', 'f']))).toEqual([
      'user.tag=two',
    ]);

    // A directory's and a symlink's own attributes, each alone (their signatures hold
    // no ctime; nothing below them changes).
    set(join(src, 'dir'), 'user.d', 'x');
    const fourth = await backup(repo, ignoring);
    expect(recorded(await findEntry(repo, fourth.snapshot.tree, ['dir']))).toEqual(['user.d=x']);
    if (isRoot) {
      set(join(src, 'dir', 'link'), 'trusted.l', 'y');
      const fifth = await backup(repo, ignoring);
      expect(recorded(await findEntry(repo, fifth.snapshot.tree, ['dir', 'link']))).toEqual([
        'trusted.l=y',
      ]);
    }
  });

  it('a file cached by a backup without them is read again by one with them', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'f'), 'content');
    set(join(src, 'f'), 'user.a', 'b');
    const cache = await tempDir();
    const { repo } = await localRepo();
    // Older than the stat cache's margin for recent changes (setting one changes ctime).
    await new Promise((resolve) => setTimeout(resolve, 200));
    await backup(repo, { paths: [src], statCacheDir: cache, xattrs: false });
    const next = await backup(repo, { paths: [src], statCacheDir: cache });
    expect(next.snapshot.summary.filesUnchanged).toBe(0);
    expect((await findEntry(repo, next.snapshot.tree, ['f']))?.xattrs?.[0]?.name).toBe('user.a');
    // And an unchanged file is then taken from the cache, attributes and all.
    const again = await backup(repo, { paths: [src], statCacheDir: cache });
    expect(again.snapshot.summary.filesUnchanged).toBe(1);
    expect(again.snapshot.tree).toBe(next.snapshot.tree);
  });

  it('restore over an existing tree adds what is missing and mends what differs, and removes nothing', async () => {
    const src = await sourceWithAttributes();
    const { repo } = await localRepo();
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const target = await tempDir();
    await restore(repo, snapshotId!, snapshot, { target });
    const hex = (v: string) => Buffer.from(v).toString('hex');
    set(join(target, 'small'), 'user.extra', "the target's own");
    set(join(target, 'small'), 'user.comment', 'changed');
    removeXattr(join(target, 'large'), 'user.big');
    set(join(target, 'dir'), 'user.extra', 'x');
    const events: RestoreEvent[] = [];
    const summary = await restore(repo, snapshotId!, snapshot, {
      target,
      onEvent: (e) => events.push(e),
    });
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
    // In place: the content matched, only the metadata was brought up to date.
    expect(summary.filesUnchanged).toBe(summary.files);
    expect(attrsOf(join(target, 'small'))).toEqual(
      [...attrsOf(join(src, 'small')), `user.extra=${hex("the target's own")}`].sort(),
    );
    expect(attrsOf(join(target, 'large'))).toEqual(attrsOf(join(src, 'large')));
    expect(attrsOf(join(target, 'dir'))).toEqual(
      [...attrsOf(join(src, 'dir')), `user.extra=${hex('x')}`].sort(),
    );
    // Nothing left to do: a third restore changes nothing.
    const before = await describeTree(target);
    await restore(repo, snapshotId!, snapshot, { target });
    expect(await describeTree(target)).toEqual(before);
  });

  it('a snapshot without them, restored over a tree that has some, leaves those alone', async () => {
    const src = await tempDir();
    await mkdir(join(src, 'd'));
    await writeFile(join(src, 'f'), 'content');
    const { repo } = await localRepo();
    // Recorded without (as by --no-xattrs, a cairn without the module, or an older one).
    const { snapshotId, snapshot } = await backup(repo, {
      paths: [src],
      statCacheDir: false,
      xattrs: false,
    });
    const target = await tempDir();
    await restore(repo, snapshotId!, snapshot, { target });
    set(join(target, 'f'), 'user.mine', 'kept');
    set(join(target, 'd'), 'user.mine', 'kept');
    if (isRoot) set(join(target, 'f'), 'security.capability', CAP_NET_RAW);
    const kept = [attrsOf(join(target, 'f')), attrsOf(join(target, 'd'))];
    const summary = await restore(repo, snapshotId!, snapshot, { target });
    expect(summary.errors).toBe(0);
    expect([attrsOf(join(target, 'f')), attrsOf(join(target, 'd'))]).toEqual(kept);
  });

  it.skipIf(!isRoot)(
    'a capability the target set on a file in place survives a repair of its times (root)',
    async () => {
      const src = await tempDir();
      await writeFile(join(src, 'prog'), 'pretend binary');
      const { repo } = await localRepo();
      const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
      const target = await tempDir();
      await restore(repo, snapshotId!, snapshot, { target });
      set(join(target, 'prog'), 'security.capability', CAP_NET_RAW);
      await utimes(join(target, 'prog'), 1_000_000_000, 1_000_000_000);
      const summary = await restore(repo, snapshotId!, snapshot, { target });
      expect(summary.filesUnchanged).toBe(1);
      // Its owner was right: no chown, which would have cleared the capability.
      expect(attrsOf(join(target, 'prog'))).toEqual([
        `security.capability=${CAP_NET_RAW.toString('hex')}`,
      ]);
      expect(await describeTree(target, { mtimes: true })).toEqual(
        (await describeTree(src)).map(
          (l) => `${l} x=security.capability:${CAP_NET_RAW.toString('hex')}`,
        ),
      );
    },
  );

  it('restore --include with xattrs: false sets none on the included file', async () => {
    const src = await sourceWithAttributes();
    const { repo } = await localRepo();
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const target = await tempDir();
    await restore(repo, snapshotId!, snapshot, {
      target,
      include: ['small', 'dir'],
      xattrs: false,
    });
    expect(attrsOf(join(target, 'small'))).toEqual([]);
    expect(attrsOf(join(target, 'dir'))).toEqual([]);
  });

  it('one the file system refuses is a warning naming it, and the file is restored', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'f'), 'content');
    set(join(src, 'f'), 'user.ok', 'fine');
    const { repo } = await localRepo();
    const { snapshotId, snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    // A snapshot whose attribute the kernel rejects (a malformed ACL), as a foreign or
    // edited repository could hold.
    const f = (await findEntry(repo, snapshot.tree, ['f']))!;
    const writer = repo.directoryWriter();
    await writer.add({
      ...f,
      xattrs: [
        { name: 'system.posix_acl_access', value: Uint8Array.of(1, 2, 3) },
        { name: 'user.ok', value: Buffer.from('fine') },
      ],
    });
    const bad = { ...snapshot, tree: (await writer.finish()).tree };
    const target = await tempDir();
    const events: RestoreEvent[] = [];
    const summary = await restore(repo, snapshotId!, bad, {
      target,
      onEvent: (e) => events.push(e),
    });
    const warnings = events.filter((e) => e.type === 'warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ path: join(target, 'f') });
    expect((warnings[0] as { message: string }).message).toMatch(
      /extended attributes not restored: system.posix_acl_access: invalid argument \(EINVAL\)/,
    );
    expect(summary.errors).toBe(1);
    expect(await readFile(join(target, 'f'), 'utf8')).toBe('content');
    expect(attrsOf(join(target, 'f'))).toEqual([`user.ok=${Buffer.from('fine').toString('hex')}`]);
  });

  it('diff reports a change of attributes alone as metadata', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'f'), 'content');
    const { repo } = await localRepo();
    const before = await backup(repo, { paths: [src], statCacheDir: false });
    set(join(src, 'f'), 'user.a', 'b');
    const after = await backup(repo, { paths: [src], statCacheDir: false });
    const items = [];
    for await (const d of diffTrees(repo, before.snapshot.tree, after.snapshot.tree)) items.push(d);
    expect(items).toMatchObject([{ path: 'f', change: 'metadata' }]);
  });

  it('dump writes them as SCHILY.xattr records, which GNU tar restores', async () => {
    const src = await sourceWithAttributes();
    // Names with the two characters a pax key encodes (a key ends at its first '=').
    set(join(src, 'plain'), 'user.a=b', 'v1');
    set(join(src, 'plain'), 'user.q%3D', 'v2');
    const { repo } = await localRepo();
    const { snapshot } = await backup(repo, { paths: [src], statCacheDir: false });
    const parts: Uint8Array[] = [];
    for await (const p of tarOf(repo, { tree: snapshot.tree })) parts.push(p);
    const tar = Buffer.concat(parts);
    expect(tar.includes('SCHILY.xattr.user.comment=a small one\n')).toBe(true);
    const out = await tempDir();
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-xf', '-', '-C', out], { input: tar });
    for (const name of ['small', 'large', 'dir', 'read-only', 'link', 'plain']) {
      expect(attrsOf(join(out, name)), name).toEqual(attrsOf(join(src, name)));
    }
    expect(readXattrs(join(out, 'plain')).map((a) => a.name)).toEqual(['user.a=b', 'user.q%3D']);
  });
});

type Cairn = typeof import('../../src/index.js');

describe('extended attributes on worker threads (compiled build)', () => {
  it('the scan thread and restore workers record and set them', async () => {
    const cairn = await compiledModules<Cairn>();
    const src = await tempDir();
    const events: BackupEvent[] = [];
    // Enough small files for the restore pool to take batches, and a large file for a job.
    for (let d = 0; d < 3; d++) {
      await mkdir(join(src, `d${d}`));
      set(join(src, `d${d}`), 'user.dir', `dir ${d}`);
      for (let f = 0; f < 200; f++) {
        const p = join(src, `d${d}`, `f${f}`);
        await writeFile(p, `file ${d}/${f}`);
        if (f % 7 === 0) set(p, 'user.n', String(f));
      }
    }
    await writeFile(join(src, 'large'), pseudoRandomBytes(4 << 20, 8));
    set(join(src, 'large'), 'user.large', 'yes');
    const repoDir = await tempDir('cairn-repo-');
    const repo = await cairn.initRepository(new cairn.LocalBackend(repoDir, { fsync: false }), {});
    const { snapshotId, snapshot } = await cairn.backup(repo, {
      paths: [src],
      statCacheDir: false,
      onEvent: (e) => events.push(e),
    });
    expect(events.filter((e) => e.type === 'warning' || e.type === 'notice')).toEqual([]);
    const target = await tempDir();
    const summary = await cairn.restore(repo, snapshotId!, snapshot, { target, workers: 2 });
    expect(summary.errors).toBe(0);
    let checked = 0;
    for (let d = 0; d < 3; d++) {
      expect(attrsOf(join(target, `d${d}`))).toEqual(attrsOf(join(src, `d${d}`)));
      for (let f = 0; f < 200; f += 7) {
        expect(attrsOf(join(target, `d${d}`, `f${f}`))).toEqual([
          `user.n=${Buffer.from(String(f)).toString('hex')}`,
        ]);
        checked++;
      }
    }
    expect(checked).toBe(87);
    expect(attrsOf(join(target, 'large'))).toEqual(attrsOf(join(src, 'large')));
  });
});
