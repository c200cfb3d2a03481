/** check --read-data-subset: N/M buckets partition the blobs; P% samples; damage is found in its bucket. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/core/ids.js';
import { backup } from '../../src/ops/backup.js';
import { check, inBucket, parseSubset, selectSubset } from '../../src/ops/check.js';
import { blobKey } from '../../src/repo/layout.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

describe('check --read-data-subset', () => {
  it('parses N/M and P%, and rejects the rest', () => {
    expect(parseSubset('2/5')).toEqual({ kind: 'bucket', n: 2, m: 5 });
    expect(parseSubset('12.5%')).toEqual({ kind: 'percent', percent: 12.5 });
    for (const bad of ['0/3', '4/3', '3', '0%', '101%', 'a/b', '1/0']) {
      expect(() => parseSubset(bad)).toThrow(/bad data subset/);
    }
  });

  it('buckets 1/M..M/M split the blobs into disjoint shares; P% picks that many', () => {
    const ids = Array.from({ length: 300 }, (_, i) => sha256Hex(new TextEncoder().encode(`${i}`)));
    const shares = [1, 2, 3].map((n) => selectSubset(ids, { kind: 'bucket', n, m: 3 }));
    expect(shares.flat().sort()).toEqual([...ids].sort());
    for (const s of shares) expect(s.length).toBeGreaterThan(60);
    const sample = selectSubset(ids, { kind: 'percent', percent: 10 });
    expect(sample).toHaveLength(30);
    expect(new Set(sample).size).toBe(30);
  });

  it('reads only its share, and finds a corrupt blob in it (not outside it)', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'big'), pseudoRandomBytes(60_000, 7));
    const { repo, dir } = await localRepo();
    const { snapshotId } = await backup(repo, { paths: [src], statCacheDir: false });
    const full = await check(repo, { readData: true });
    const total = full.dataBlobsRead;
    expect(total).toBeGreaterThan(30);

    const reads = [1, 2, 3, 4].map(
      async (n) => (await check(repo, { readDataSubset: `${n}/4` })).dataBlobsRead,
    );
    const counts = await Promise.all(reads);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(total);
    expect(Math.max(...counts)).toBeLessThan(total);
    const pct = await check(repo, { readDataSubset: '25%' });
    expect(pct.dataBlobsRead).toBe(Math.ceil(total / 4));

    // corrupt one chunk of the file, then look for it bucket by bucket
    const tree = await repo.trees.lookup((await repo.snapshots.load(snapshotId!)).tree, 'big');
    const victim = tree!.kind === 'file' ? tree!.chunks[3]!.id : '';
    const path = join(dir, blobKey('data', victim));
    const bytes = await readFile(path);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(path, bytes);
    const n = [1, 2, 3, 4].find((b) => inBucket(victim, b, 4))!;
    const hit = await check(repo, { readDataSubset: `${n}/4` });
    expect(hit.problems.map((p) => [p.code, p.object, p.paths, p.snapshots])).toEqual([
      ['integrity', `data ${victim}`, ['big'], [snapshotId]],
    ]);
    const other = (n % 4) + 1;
    expect((await check(repo, { readDataSubset: `${other}/4` })).problems).toEqual([]);
  });
});
