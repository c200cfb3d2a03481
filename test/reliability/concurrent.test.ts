/**
 * Concurrent writers: several `cairn backup` processes with different `--host` write
 * into one local repository at once (sharing content, so they race to store the same
 * blobs, and sharing one cache directory), while a `cairn sync` writes more snapshots
 * into it from another repository. Every snapshot completes, each restores byte-exact,
 * and `check --read-data` is clean.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import {
  cairnBin,
  iterations,
  LOOP_TIMEOUT_MS,
  readFiles,
  requireBinary,
  SEED,
  STRESS,
  startCairn,
} from '../helpers/reliability.js';
import {
  createTestBucket,
  type RgwServer,
  rgwServer,
  stopRgw,
  type TestBucket,
} from '../helpers/rgw.js';

const ROUNDS = iterations(1, 10);
const WRITERS = 3;
const INIT = ['init', '--min', '4K', '--avg', '16K', '--max', '64K', '--inline-max', '1K'];

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

/**
 * One scenario per round: WRITERS backups and a sync into the repository at
 * `location(round)` at once, then check, list and restore.
 */
async function writersAndSync(
  location: (round: number) => string,
  extraEnv: NodeJS.ProcessEnv,
  rounds: number,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const base = await tempDir('cairn-conc-');
    const repo = location(round);
    const other = join(base, 'other');
    const env = { ...extraEnv, CAIRN_CACHE_DIR: join(base, 'cache') };
    expect((await cairnBin(['--repo', repo, ...INIT], env)).code).toBe(0);
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

    const sources: string[] = [];
    for (let w = 0; w < WRITERS; w++) {
      const src = await tempDir('cairn-conc-src-');
      await writeSource(src, w, round);
      sources.push(src);
    }
    const runs = [
      ...sources.map((src, w) =>
        startCairn(['--repo', repo, 'backup', src, '--host', `host-${w}`], env),
      ),
      startCairn(['sync', other, repo], env),
    ];
    const results = await Promise.all(runs.map((r) => r.done));
    expect(results).toEqual(results.map(() => ({ code: 0, signal: null })));

    const c = await cairnBin(['--repo', repo, 'check', '--read-data'], env);
    expect(c.code, `${c.stdout}\n${c.stderr}`).toBe(0);
    const listed = await cairnBin(['--repo', repo, 'snapshots', '--json'], env);
    const snaps = listed.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { type: string; id: string; hostname?: string; host?: string })
      .filter((o) => o.type === 'snapshot');
    expect(snaps).toHaveLength(WRITERS + 2);
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

describe(`concurrent writers (${ROUNDS} rounds, ${WRITERS} backups and a sync)`, () => {
  it(
    'local: every snapshot completes, restores exactly, and check --read-data is clean',
    async () => {
      const dir = await tempDir('cairn-conc-repos-');
      await writersAndSync((round) => join(dir, `repo-${round}`), {}, ROUNDS);
    },
    LOOP_TIMEOUT_MS,
  );

  // S3 (Ceph RGW on loopback) under STRESS=1 only: starting RGW alone takes 5-7 s.
  describe.runIf(STRESS)('on S3', () => {
    let server: RgwServer;
    let bucket: TestBucket;
    beforeAll(async () => {
      server = await rgwServer();
      bucket = await createTestBucket(server, 'reliability');
    }, 180_000);
    afterAll(async () => {
      await bucket?.remove();
      await stopRgw();
    }, 60_000);

    it(
      'S3: every snapshot completes, restores exactly, and check --read-data is clean',
      async () => {
        const env = {
          AWS_ACCESS_KEY_ID: server.accessKey,
          AWS_SECRET_ACCESS_KEY: server.secretKey,
        };
        await writersAndSync((round) => bucket.url(`conc-${round}`), env, ROUNDS);
      },
      LOOP_TIMEOUT_MS,
    );
  });
});
