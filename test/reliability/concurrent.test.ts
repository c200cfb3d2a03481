/**
 * Concurrent writers: several `cairn backup` processes with different `--host` write
 * into one repository (local, and S3 on Ceph RGW) at once, sharing content, so they
 * race to store the same blobs, and sharing one cache directory, while a `cairn sync`
 * writes more snapshots into it from another repository and a `cairn forget --prune`
 * (grace 0) forgets an older snapshot whose blobs the writers reuse. Every snapshot
 * completes, each restores byte-exact, and `check --read-data` is clean; a prune run
 * afterwards completes and leaves the writers' snapshots intact.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.js';
import { LocalBackend } from '../../src/backends/local.js';
import { listLocks } from '../../src/repo/locks.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import {
  cairnBin,
  delay,
  iterations,
  LOOP_TIMEOUT_MS,
  readFiles,
  requireBinary,
  SEED,
  seeded,
  startCairn,
} from '../helpers/reliability.js';
import { rgwBucketFixture } from '../helpers/rgw-bucket.js';

const ROUNDS = iterations(1, 10);
/** S3 rounds: every object is a request to RGW, so a round costs several times more. */
const S3_ROUNDS = iterations(1, 10);
const WRITERS = 3;
const INIT = ['init', '--min', '4K', '--avg', '16K', '--max', '64K', '--inline-max', '1K'];
/** On S3 larger chunks: a quarter of the requests to RGW, the same races. */
const INIT_S3 = ['init', '--min', '16K', '--avg', '64K', '--max', '256K', '--inline-max', '1K'];

beforeAll(requireBinary);

/** A source shared in part with the other writers (same seeds), in part its own. */
async function writeSource(dir: string, writer: number, round: number): Promise<void> {
  for (let i = 0; i < 4; i++) {
    await writeFile(
      join(dir, `shared-${i}.bin`),
      pseudoRandomBytes(250_000, SEED + round * 10 + i),
    );
  }
  await writeFile(
    join(dir, 'own.bin'),
    pseudoRandomBytes(400_000, SEED + 1000 * (writer + 1) + round),
  );
  for (let i = 0; i < 10; i++) await writeFile(join(dir, `small-${i}.txt`), `w${writer} ${i}\n`);
}

/** The `summary` objects a `--json` run printed, in order. */
function summaries(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o.type === 'summary');
}

/**
 * One scenario per round: WRITERS backups, a sync and a `forget --prune` into the
 * repository at `location(round)` at once, then a prune, check, list and restore.
 */
async function writersSyncAndPrune(
  location: (round: number) => string,
  openBackend: (location: string) => Backend,
  init: string[],
  extraEnv: NodeJS.ProcessEnv,
  rounds: number,
  random: () => number,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const base = await tempDir('cairn-conc-');
    const repo = location(round);
    const other = join(base, 'other');
    const env = { ...extraEnv, CAIRN_CACHE_DIR: join(base, 'cache') };
    expect((await cairnBin(['--repo', repo, ...init], env)).code).toBe(0);
    expect((await cairnBin(['--repo', other, 'init', '--copy-params-from', repo], env)).code).toBe(
      0,
    );
    // The other repository holds two snapshots to sync in, overlapping the writers' data.
    const otherSrc = await tempDir('cairn-conc-src-');
    await writeSource(otherSrc, 99, round);
    expect(
      (await cairnBin(['--repo', other, 'backup', otherSrc, '--host', 'synced'], env)).code,
    ).toBe(0);
    await writeFile(join(otherSrc, 'more.bin'), pseudoRandomBytes(300_000, SEED + 77));
    expect(
      (await cairnBin(['--repo', other, 'backup', otherSrc, '--host', 'synced'], env)).code,
    ).toBe(0);

    // Two older snapshots (host `old`, one path): the first holds the writers' shared
    // content; forgetting it during the backups makes prune want the blobs they reuse.
    const oldSrc = await tempDir('cairn-conc-src-');
    await writeSource(oldSrc, 50, round);
    expect((await cairnBin(['--repo', repo, 'backup', oldSrc, '--host', 'old'], env)).code).toBe(0);
    await writeSource(oldSrc, 51, round + 100);
    expect((await cairnBin(['--repo', repo, 'backup', oldSrc, '--host', 'old'], env)).code).toBe(0);

    const sources: string[] = [];
    for (let w = 0; w < WRITERS; w++) {
      const src = await tempDir('cairn-conc-src-');
      await writeSource(src, w, round);
      sources.push(src);
    }
    // Even rounds start forget --prune first and the writers as soon as its sweep has
    // begun (seen in its lock record), so they meet the sweep; odd rounds start the
    // writers first and forget --prune a seeded 0-1.5 s later, so it meets their locks.
    const pruneFirst = round % 2 === 0;
    const lead = Math.floor(random() * 1500);
    let pruneDone = false;
    const pruneRun = delay(pruneFirst ? 0 : lead).then(async () => {
      const r = await cairnBin(
        ['--repo', repo, 'forget', '--host', 'old', '--keep-last', '1', '--prune'].concat([
          '--grace',
          '0',
          '--json',
        ]),
        env,
      );
      pruneDone = true;
      expect(r.code, r.stderr).toBe(0);
      const [forgot, pruned] = summaries(r.stdout);
      expect(forgot?.removed).toHaveLength(1);
      // Either outcome is correct; which one happened is printed for the record.
      const outcome = pruned?.postponed
        ? 'postponed its sweep'
        : `swept (${pruned?.deletedData} data blobs deleted)`;
      process.stderr.write(
        `[concurrent] round ${round}: forget --prune ${pruneFirst ? 'first, writers at its sweep' : `${lead} ms after the writers`}: ${outcome}\n`,
      );
      return { code: r.code, signal: null };
    });
    if (pruneFirst) {
      const backend = openBackend(repo);
      try {
        const started = Date.now();
        while (!pruneDone && Date.now() - started < 30_000) {
          const locks = await listLocks(backend);
          if (locks.some((l) => l.record.sweeping === true)) break;
          await delay(5);
        }
      } finally {
        await backend.close();
      }
    }
    const runs = [
      ...sources.map((src, w) =>
        startCairn(['--repo', repo, 'backup', src, '--host', `host-${w}`], env),
      ),
      startCairn(['sync', other, repo], env),
    ];
    const results = await Promise.all([...runs.map((r) => r.done), pruneRun]);
    expect(results).toEqual(results.map(() => ({ code: 0, signal: null })));
    // A prune with nothing running completes what a postponed sweep left.
    const p = await cairnBin(['--repo', repo, 'prune', '--grace', '0'], env);
    expect(p.code, `${p.stdout}\n${p.stderr}`).toBe(0);

    const c = await cairnBin(['--repo', repo, 'check', '--read-data'], env);
    expect(c.code, `${c.stdout}\n${c.stderr}`).toBe(0);
    const listed = await cairnBin(['--repo', repo, 'snapshots', '--json'], env);
    const snaps = listed.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { type: string; id: string; hostname?: string; host?: string })
      .filter((o) => o.type === 'snapshot');
    expect(snaps).toHaveLength(WRITERS + 3); // writers, two synced, the old one kept
    for (let w = 0; w < WRITERS; w++) {
      const target = await tempDir('cairn-conc-target-');
      const mine = snaps.filter((o) => (o.hostname ?? o.host) === `host-${w}`);
      expect(mine).toHaveLength(1);
      const r = await cairnBin(['--repo', repo, 'restore', mine[0]!.id, '--target', target], env);
      expect(r.code, r.stderr).toBe(0);
      expect(await readFiles(target)).toEqual(await readFiles(sources[w]!));
    }
  }
}

describe(`concurrent writers (${ROUNDS} rounds, ${WRITERS} backups, a sync and forget --prune, seed ${SEED})`, () => {
  it(
    'local: every snapshot completes, restores exactly, and check --read-data is clean',
    async () => {
      const dir = await tempDir('cairn-conc-repos-');
      await writersSyncAndPrune(
        (round) => join(dir, `repo-${round}`),
        (location) => new LocalBackend(location),
        INIT,
        {},
        ROUNDS,
        seeded(SEED),
      );
    },
    LOOP_TIMEOUT_MS,
  );

  // S3 (Ceph RGW on loopback): starting RGW takes a few seconds.
  describe('on S3', () => {
    const rgw = rgwBucketFixture('reliability');

    it(
      'S3: every snapshot completes, restores exactly, and check --read-data is clean',
      async () => {
        const env = {
          AWS_ACCESS_KEY_ID: rgw.server.accessKey,
          AWS_SECRET_ACCESS_KEY: rgw.server.secretKey,
        };
        await writersSyncAndPrune(
          (round) => rgw.bucket.url(`conc-${round}`),
          (location) => rgw.bucket.open(location.slice(rgw.bucket.url().length + 1)),
          INIT_S3,
          env,
          S3_ROUNDS,
          seeded(SEED + 1),
        );
      },
      LOOP_TIMEOUT_MS,
    );
  });
});
