/**
 * Prune racing backups: the scenario shared by the local and S3 tests. Each round
 * rewrites the source so that it reuses content of snapshots the same round forgets, then
 * runs `forget --keep-last 1` + `prune --grace 0` concurrently with a locked backup, with
 * shifting start offsets. Afterwards every snapshot must pass `check --read-data` and
 * restore byte-exact.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import { forget } from '../../src/ops/forget.js';
import { withSharedLock } from '../../src/ops/lock-guard.js';
import type { PruneReport } from '../../src/ops/prune.js';
import { restore } from '../../src/ops/restore.js';
import type { Repository } from '../../src/repo/repository.js';
import { describeTree, pseudoRandomBytes, tempDir } from './fs.js';

/** Writes version `v` of the source: contents cycle, so old blobs come back. */
export async function writeVersion(dir: string, v: number): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  const files: Record<string, Buffer> = {
    'cycle.bin': pseudoRandomBytes(30_000, 1000 + (v % 3)),
    'fresh.bin': pseudoRandomBytes(10_000, 2000 + v),
    [`sub/${v % 2}.bin`]: pseudoRandomBytes(12_000, 3000 + (v % 2)),
    'same.bin': pseudoRandomBytes(8_000, 4000),
  };
  for (const [name, data] of Object.entries(files)) {
    const p = join(dir, name);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, data);
  }
}

/** What the rounds did. */
export interface RaceResult {
  prunes: PruneReport[];
  /** Per round: the snapshot written and the tree of the source it was made from. */
  backups: Array<{ id: string; expected: string[] }>;
}

/**
 * Runs `rounds` rounds. `open` opens a new handle on the same repository (each side of
 * the race has its own, as two machines would).
 */
export async function raceRounds(
  open: () => Promise<Repository>,
  rounds: number,
  statCacheDir: string,
  /** Start offsets (ms) applied in turn, first to the prune side, then to the backup side. */
  delays: number[] = [0, 40, 120, 300],
): Promise<RaceResult> {
  const src = await tempDir('cairn-race-src-');
  const result: RaceResult = { prunes: [], backups: [] };
  const first = await open();
  try {
    await writeVersion(src, 0);
    await withSharedLock(first, 'backup', () =>
      backup(first, { paths: [src], hostname: 'h', statCacheDir }),
    );
  } finally {
    await first.close();
  }
  for (let round = 1; round <= rounds; round++) {
    await writeVersion(src, round);
    const expected = await describeTree(src);
    const a = await open();
    const b = await open();
    try {
      const delay = delays[round % delays.length]!;
      const pruneSide = (async () => {
        await new Promise((r) =>
          setTimeout(r, Math.floor(round / delays.length) % 2 === 0 ? delay : 0),
        );
        const r = await forget(a, {
          policy: { last: 1 },
          prune: { graceMs: 0 },
        });
        if (r.prune) result.prunes.push(r.prune);
      })();
      const backupSide = (async () => {
        await new Promise((r) =>
          setTimeout(r, Math.floor(round / delays.length) % 2 === 1 ? delay : 0),
        );
        const { snapshotId } = await withSharedLock(
          b,
          'backup',
          () => backup(b, { paths: [src], hostname: 'h', statCacheDir }),
          { pollMs: 5 },
        );
        result.backups.push({ id: snapshotId!, expected });
      })();
      await Promise.all([pruneSide, backupSide]);
    } finally {
      await a.close();
      await b.close();
    }
  }
  return result;
}

/** Checks the repository with --read-data and restores every snapshot still present. */
export async function verifyAfterRace(
  repo: Repository,
  result: RaceResult,
): Promise<{ problems: number; restored: number }> {
  const report = await check(repo, { readData: true });
  if (report.problems.length > 0) {
    throw new Error(`check found problems: ${JSON.stringify(report.problems, null, 1)}`);
  }
  const present = new Set(await repo.snapshots.ids());
  let restored = 0;
  for (const b of result.backups) {
    if (!present.has(b.id)) continue;
    const target = await tempDir('cairn-race-dst-');
    await restore(repo, b.id, await repo.snapshots.load(b.id), { target });
    const got = await describeTree(target);
    if (JSON.stringify(got) !== JSON.stringify(b.expected)) {
      throw new Error(`snapshot ${b.id} restored differently:\n${got.join('\n')}`);
    }
    restored++;
  }
  return { problems: report.problems.length, restored };
}
