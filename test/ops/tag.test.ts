/**
 * `tagSnapshots`: a record with other tags replaces the old one (written first, then the
 * old deleted, the index rebuilt), carrying `original`; records already as asked are
 * left alone; an interrupted change finishes when run again; selectors and filters.
 */
import { describe, expect, it } from 'vitest';
import type { PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { BackendError, UsageError } from '../../src/core/errors.js';
import {
  decodeSnapshot,
  encodeSnapshot,
  packSnapshotUnchecked,
} from '../../src/manifest/snapshot-codec.js';
import { backup } from '../../src/ops/backup.js';
import { changedTags, tagSnapshots } from '../../src/ops/tag.js';
import { openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { orderSnapshots } from '../../src/repo/snapshots.js';
import { sampleSnapshot } from '../helpers/entries.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { indexedIds, localRepo, memoryRepo } from '../helpers/repo.js';

async function twoSnapshots(): Promise<{ repo: Repository; ids: string[]; dir: string }> {
  const src = await tempDir();
  await writeTree(src, { 'a.txt': 'a' });
  const { repo, dir } = await localRepo();
  const first = await backup(repo, { paths: [src], statCacheDir: false, tags: ['daily'] });
  await writeTree(src, { 'b.txt': 'b' });
  const second = await backup(repo, {
    paths: [src],
    statCacheDir: false,
    tags: ['daily', 'keep'],
    hostname: 'other',
  });
  return { repo, ids: [first.snapshotId!, second.snapshotId!], dir };
}

async function storedIds(repo: Repository): Promise<string[]> {
  return (await repo.snapshots.ids()).sort();
}

/** Refuses to store snapshot records. */
class NoSnapshotPuts extends ForwardingBackend {
  override put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    if (key.startsWith('snapshots/')) {
      return Promise.reject(new BackendError(`${key}: refused`, { retryable: false }));
    }
    return super.put(key, data, options);
  }
}

describe('tagSnapshots', () => {
  it('replaces each changed record by one with the new tags and an original', async () => {
    const { repo, ids } = await twoSnapshots();
    const before = await repo.snapshots.load(ids[0]!);
    const report = await tagSnapshots(repo, { snapshots: [ids[0]!], add: ['release', 'v1'] });
    expect(report.unchanged).toBe(0);
    expect(report.changed).toHaveLength(1);
    const c = report.changed[0]!;
    expect(c.from).toBe(ids[0]);
    expect(await storedIds(repo)).toEqual([c.id, ids[1]!].sort());
    const after = await repo.snapshots.load(c.id);
    expect(after).toEqual({
      ...before,
      tags: ['daily', 'release', 'v1'],
      original: ids[0],
      retags: 1,
    });
    // The index (what readers that cannot list use) holds the new record, not the old.
    expect(await indexedIds(repo)).toEqual([c.id, ids[1]!].sort());

    // A second change names the record it replaces; `remove` of an absent tag is no change.
    const again = await tagSnapshots(repo, { snapshots: [c.id], remove: ['v1', 'nope'] });
    const second = again.changed[0]!;
    expect((await repo.snapshots.load(second.id)).original).toBe(c.id);
    expect((await repo.snapshots.load(second.id)).tags).toEqual(['daily', 'release']);
    const none = await tagSnapshots(repo, { snapshots: [second.id], remove: ['nope'] });
    expect(none).toMatchObject({ changed: [], unchanged: 1 });
    expect(await storedIds(repo)).toEqual([second.id, ids[1]!].sort());
  });

  it('changes every snapshot a filter chooses, and all without one', async () => {
    const { repo, ids } = await twoSnapshots();
    const byHost = await tagSnapshots(repo, { filter: { hostname: 'other' }, set: ['x'] });
    expect(byHost.changed.map((c) => c.from)).toEqual([ids[1]]);
    const all = await tagSnapshots(repo, { add: ['x'] });
    expect(all.changed.map((c) => c.from)).toEqual([ids[0]]);
    expect(all.unchanged).toBe(1);
    const tags = (await repo.snapshots.list()).map((r) => r.snapshot.tags);
    expect(tags).toEqual([['daily', 'x'], ['x']]);
    const cleared = await tagSnapshots(repo, { snapshots: ['latest'], set: [] });
    expect(cleared.changed[0]!.snapshot.tags).toEqual([]);
  });

  it('with selectors, narrows latest by the filter and takes ids as they are', async () => {
    const { repo, ids } = await twoSnapshots();
    const host = (await repo.snapshots.load(ids[0]!)).hostname;
    const filter = { hostname: host };
    const scoped = await tagSnapshots(repo, { snapshots: ['latest'], filter, add: ['y'] });
    expect(scoped.changed.map((c) => c.from)).toEqual([ids[0]]);
    const byId = await tagSnapshots(repo, { snapshots: [ids[1]!.slice(0, 8)], filter, add: ['y'] });
    expect(byId.changed.map((c) => c.from)).toEqual([ids[1]]);
  });

  it('writes and deletes nothing in a dry run, and reports the id the record would get', async () => {
    const { repo, ids } = await twoSnapshots();
    const report = await tagSnapshots(repo, { snapshots: ['latest'], add: ['z'], dryRun: true });
    expect(report.changed[0]!.from).toBe(ids[1]);
    expect(await storedIds(repo)).toEqual([...ids].sort());
    const real = await tagSnapshots(repo, { snapshots: ['latest'], add: ['z'] });
    expect(real.changed[0]!.id).toBe(report.changed[0]!.id);
  });

  it('finishes an interrupted change when run again, by id or by latest', async () => {
    const { repo, ids } = await twoSnapshots();
    // As if stopped after writing the new record: both records are there.
    const old = await repo.snapshots.load(ids[0]!);
    const written = await repo.snapshots.write({
      ...old,
      tags: ['daily', 'r'],
      original: ids[0],
      retags: 1,
    });
    expect(await storedIds(repo)).toContain(ids[0]);
    const report = await tagSnapshots(repo, { snapshots: [ids[0]!], add: ['r'] });
    expect(report.changed[0]!.id).toBe(written);
    expect(await storedIds(repo)).toEqual([written, ids[1]!].sort());

    // `latest` names the new record (same time, and it replaces the old one), whose tags
    // are already as asked: the old one it replaced is removed all the same.
    const newest = await repo.snapshots.load(ids[1]!);
    const retagged = await repo.snapshots.write({
      ...newest,
      tags: ['z'],
      original: ids[1],
      retags: 1,
    });
    expect((await repo.snapshots.resolve('latest')).id).toBe(retagged);
    const rerun = await tagSnapshots(repo, { snapshots: ['latest'], set: ['z'] });
    expect(rerun).toMatchObject({ changed: [], unchanged: 1, leftovers: [ids[1]] });
    expect(await storedIds(repo)).toEqual([written, retagged].sort());
    expect(await indexedIds(repo)).toEqual([written, retagged].sort());
  });

  it('never takes a record rewrite kept for a leftover', async () => {
    const { repo, ids } = await twoSnapshots();
    const kept = await repo.snapshots.load(ids[1]!);
    // Another tree, as `rewrite` without --forget leaves the original beside it.
    const otherTree = (await repo.snapshots.load(ids[0]!)).tree;
    expect(otherTree).not.toBe(kept.tree);
    const other = await repo.snapshots.write({ ...kept, tree: otherTree, original: ids[1] });
    const report = await tagSnapshots(repo, { snapshots: [other], add: ['keep'] });
    expect(report.leftovers).toEqual([]);
    expect(await storedIds(repo)).toContain(ids[1]);
  });

  it('keeps the old record when the new one cannot be stored', async () => {
    const { repo, ids, dir } = await twoSnapshots();
    const failing = await openRepositoryIn(new NoSnapshotPuts(new LocalBackend(dir)));
    await expect(tagSnapshots(failing, { snapshots: [ids[0]!], add: ['x'] })).rejects.toThrow(
      /refused/,
    );
    expect(await storedIds(repo)).toEqual([...ids].sort());
  });

  it('refuses changes that say nothing or contradict, and bad tags', async () => {
    const { repo, ids } = await twoSnapshots();
    await expect(tagSnapshots(repo, {})).rejects.toThrow(UsageError);
    await expect(tagSnapshots(repo, { set: ['a'], add: ['b'] })).rejects.toThrow(/not with add/);
    await expect(tagSnapshots(repo, { add: ['has space'] })).rejects.toThrow(/bad tag/);
    // Nothing was changed by the refusals.
    expect(await storedIds(repo)).toEqual([...ids].sort());
  });

  it('keeps tags sorted and unique', () => {
    expect(changedTags(['b', 'd'], { add: ['c', 'a', 'c'] })).toEqual(['a', 'b', 'c', 'd']);
    expect(changedTags(['b'], { set: ['z', 'y', 'z'] })).toEqual(['y', 'z']);
    expect(changedTags(['a', 'b'], { add: ['c'], remove: ['a', 'c'] })).toEqual(['b']);
  });
});

describe('snapshot records with original', () => {
  it('are version 2; version 1 records cannot carry it', async () => {
    const { repo, ids } = await twoSnapshots();
    const s = await repo.snapshots.load(ids[0]!);
    const bytes = encodeSnapshot({ ...s, original: ids[1]! });
    expect(decodeSnapshot(bytes, 'test').original).toBe(ids[1]);
    // Patch the version byte of the encoded map (`v` is its first field) back to 1.
    const v1 = Uint8Array.from(bytes);
    const at = v1.indexOf(0x02, 1);
    expect(v1[at - 1]).toBe(0x76); // 'v'
    v1[at] = 0x01;
    expect(() => decodeSnapshot(v1, 'test')).toThrow(/original: not part of version 1/);
    // Without `original` nothing changes: still version 1; a version 2 record needs it.
    const plain = encodeSnapshot(s);
    expect(plain[3]).toBe(0x01);
    const v2 = Uint8Array.from(plain);
    v2[3] = 0x02;
    expect(() => decodeSnapshot(v2, 'test')).toThrow(/original: missing/);
  });

  it('carry rewrites and retags from 1, only beside original', async () => {
    const repo = await memoryRepo();
    const src = await tempDir();
    await backup(repo, { paths: [src], statCacheDir: false });
    const [id] = await repo.snapshots.ids();
    const s = await repo.snapshots.load(id!);
    const replacement = { ...s, original: id!, rewrites: 2, retags: 3 };
    expect(decodeSnapshot(encodeSnapshot(replacement), 'test')).toEqual(replacement);
    for (const field of ['rewrites', 'retags'] as const) {
      for (const bad of [0, -1, 1.5]) {
        const record = { ...replacement, [field]: bad };
        expect(() => encodeSnapshot(record)).toThrow(new RegExp(field));
        expect(() => decodeSnapshot(packSnapshotUnchecked(record), 'test')).toThrow(
          new RegExp(field),
        );
      }
      const alone = packSnapshotUnchecked({ ...s, [field]: 2 });
      expect(() => decodeSnapshot(alone, 'test')).toThrow(
        new RegExp(`${field}: present without original`),
      );
    }
  });
});

describe('orderSnapshots', () => {
  type Rank = { original?: string; rewrites?: number; retags?: number };
  const at = (id: string, time: string, rank: Rank = {}) => ({
    id,
    snapshot: { ...sampleSnapshot('ab'.repeat(32)), time, ...rank },
  });
  const T = '2026-01-01T00:00:00.000Z';
  const U = '2026-01-02T00:00:00.000Z';
  const ids = (refs: Array<{ id: string }>) => refs.map((r) => r.id);

  it('puts rewrites after tags, tags after what they replace, then orders by id', () => {
    // a, then f (a tagged), then c (f tagged again); b a backup of the same time.
    const refs = [
      at('c', T, { original: 'f', retags: 2 }),
      at('f', T, { original: 'a', retags: 1 }),
      at('a', T),
      at('b', T),
      at('0', U),
    ];
    expect(ids(orderSnapshots(refs))).toEqual(['a', 'b', 'f', 'c', '0']);
    // What a record replaces counts only within its time.
    expect(
      ids(orderSnapshots([at('z', U, { original: 'a', retags: 1 }), at('a', T), at('y', U)])),
    ).toEqual(['a', 'y', 'z']);
    // A replacement without rank fields (written before them) ranks as a tag's.
    expect(
      ids(
        orderSnapshots([
          at('e', T, { original: 'x', retags: 2 }),
          at('d', T, { original: 'x' }),
          at('0', T),
        ]),
      ),
    ).toEqual(['0', 'd', 'e']);
  });

  it('keeps the last rewrite newest, whatever was tagged since', () => {
    // A kept by rewrite, B its rewrite; A tagged twice (A''), B tagged once (B').
    for (const [a, b] of [
      ['1', '9'],
      ['9', '1'],
    ]) {
      const refs = [
        at(a!, T, { original: 'A', retags: 2 }),
        at(b!, T, { original: 'B', rewrites: 1, retags: 1 }),
      ];
      expect(ids(orderSnapshots(refs)).at(-1)).toBe(b);
      const untagged = [
        at(a!, T, { original: 'A', retags: 5 }),
        at(b!, T, { original: 'A', rewrites: 1 }),
      ];
      expect(ids(orderSnapshots(untagged)).at(-1)).toBe(b);
    }
  });
});
