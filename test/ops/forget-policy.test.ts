/**
 * `forget` as a library call refuses a policy that keeps nothing (no rule, or only counts
 * of 0 and a zero `within`) and a malformed one, before it locks or removes anything;
 * and a tag rule that would keep none of the snapshots, before it removes anything.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/ops/backup.js';
import { forget } from '../../src/ops/forget.js';
import type { RetentionPolicy } from '../../src/ops/retention.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { memoryRepo } from '../helpers/repo.js';

describe('forget refuses a policy that would remove every snapshot', () => {
  it('rejects empty, all-zero and malformed policies and leaves the snapshots', async () => {
    const repo = await memoryRepo();
    const src = await tempDir();
    for (let v = 1; v <= 3; v++) {
      await writeFile(join(src, 'a'), pseudoRandomBytes(3000, v));
      await backup(repo, { paths: [src], statCacheDir: false });
    }
    const zero = { years: 0, months: 0, days: 0, hours: 0 };
    const keepsNothing: RetentionPolicy[] = [
      {},
      { last: 0 },
      { daily: 0 },
      { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 },
      { within: zero },
      { last: 0, within: zero, tags: [] },
    ];
    for (const policy of keepsNothing) {
      for (const dryRun of [true, false]) {
        await expect(forget(repo, { policy, dryRun }), JSON.stringify(policy)).rejects.toThrow(
          /forget needs a policy that keeps something/,
        );
      }
    }
    for (const policy of [{ last: -1 }, { daily: 1.5 }, { within: { ...zero, days: -2 } }]) {
      await expect(forget(repo, { policy })).rejects.toMatchObject({ code: 'usage' });
    }
    expect(await repo.snapshots.ids()).toHaveLength(3);
    // A zero count next to a rule that keeps is fine: the zero rule just keeps nothing.
    const report = await forget(repo, { policy: { last: 0, daily: 1 }, dryRun: true });
    expect(report.kept).toBe(1);
  });

  it('refuses a tag rule that matches no snapshot (a misspelt tag), dry or not', async () => {
    const repo = await memoryRepo();
    const src = await tempDir();
    for (let v = 1; v <= 3; v++) {
      await writeFile(join(src, 'a'), pseudoRandomBytes(3000, v));
      await backup(repo, { paths: [src], statCacheDir: false, tags: v === 2 ? ['release'] : [] });
    }
    for (const dryRun of [true, false]) {
      await expect(forget(repo, { policy: { tags: [['relase']] }, dryRun })).rejects.toThrow(
        /keeps none of the 3 snapshot\(s\): none has the tags relase; nothing was removed/,
      );
    }
    expect(await repo.snapshots.ids()).toHaveLength(3);
    // With a rule that keeps something, a tag that matches nothing is no cause to refuse.
    const other = await forget(repo, { policy: { tags: [['relase']], last: 1 }, dryRun: true });
    expect(other.kept).toBe(1);
    // And the tag that exists keeps its snapshot.
    const right = await forget(repo, { policy: { tags: [['release']] } });
    expect(right.kept).toBe(1);
    expect(right.removed).toHaveLength(2);
    expect(await repo.snapshots.ids()).toHaveLength(1);
  });
});
