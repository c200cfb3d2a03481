/**
 * Crash safety: the built binary is killed with SIGKILL at seeded random moments during
 * backup, restore, sync and prune, in a local repository and (backup) in S3. Afterwards
 * `check --read-data` passes, the next run completes, every snapshot committed before
 * the crash still restores byte-exact, a restore target never holds a half-written file
 * under its final name, and a rerun of prune leaves no unreferenced blob.
 *
 * CI runs a few iterations of each; `STRESS=1` (npm run test:stress) runs many.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import {
  cairnBin,
  delay,
  halfWrittenFiles,
  iterations,
  LOOP_TIMEOUT_MS,
  readFiles,
  requireBinary,
  SEED,
  seeded,
  startCairn,
  tempFilesBelow,
} from '../helpers/reliability.js';
import { rgwBucketFixture } from '../helpers/rgw-bucket.js';

const ROUNDS = iterations(2, 40);
/** Sync rounds cost the most processes: one in CI. */
const SYNC_ROUNDS = iterations(1, 20);
/** Prune rounds: each backs up, forgets, kills prune, backs up again and prunes again. */
const PRUNE_ROUNDS = iterations(2, 40);
/** Backup rounds against S3 (Ceph RGW on loopback): each costs several seconds there. */
const S3_ROUNDS = iterations(1, 20);
/** Chunks of 16 KiB on average: a few hundred objects per run, each fsynced. */
const INIT = ['init', '--min', '4K', '--avg', '16K', '--max', '64K', '--inline-max', '1K'];
/** On S3 larger chunks: a quarter of the requests to RGW, the same kinds of objects. */
const INIT_S3 = ['init', '--min', '16K', '--avg', '64K', '--max', '256K', '--inline-max', '1K'];

beforeAll(requireBinary);

/** A source tree of about 3 MiB: large chunked files, small inline ones, nesting. */
async function writeSource(dir: string, seed: number): Promise<void> {
  await mkdir(join(dir, 'deep', 'er'), { recursive: true });
  for (let i = 0; i < 8; i++) {
    await writeFile(join(dir, `big-${i}.bin`), pseudoRandomBytes(300_000 + i * 7_000, seed + i));
  }
  for (let i = 0; i < 20; i++) await writeFile(join(dir, 'deep', `small-${i}.txt`), `s${i}\n`);
  await writeFile(join(dir, 'deep', 'er', 'mid.bin'), pseudoRandomBytes(200_000, seed + 100));
}

/**
 * A directory large enough to be paged (about 270 KiB of inline entries: an index node
 * over several leaf pages), so that prune deletes multi-node directories.
 */
async function writePagedDir(dir: string, seed: number): Promise<void> {
  await mkdir(join(dir, 'paged'), { recursive: true });
  for (let i = 0; i < 300; i++) {
    await writeFile(join(dir, 'paged', `entry-${i}.txt`), pseudoRandomBytes(900, seed * 1000 + i));
  }
}

/** The `summary` object a `--json` run printed. */
function jsonSummary(stdout: string): Record<string, unknown> {
  const summary = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((o) => o.type === 'summary');
  expect(summary, stdout).toBeDefined();
  return summary!;
}

/** How many blobs a `prune --dry-run` finds unreferenced now. */
async function unreferencedBlobs(env: NodeJS.ProcessEnv): Promise<number> {
  const r = await cairnBin(['prune', '--dry-run', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return jsonSummary(r.stdout).unreferencedBlobs as number;
}

/** Initializes a repository (a fresh local one unless `location` is given). */
async function setup(location?: string, extraEnv: NodeJS.ProcessEnv = {}, init = INIT) {
  const repo = location ?? join(await tempDir('cairn-crash-'), 'repo');
  const env = { ...extraEnv, CAIRN_REPO: repo, CAIRN_CACHE_DIR: await tempDir('cairn-cache-') };
  const i = await cairnBin(init, env);
  expect(i.code, i.stderr).toBe(0);
  return { repo, env };
}

/** Snapshot ids in the repository of `env`. */
async function snapshotIds(env: NodeJS.ProcessEnv, repo?: string): Promise<string[]> {
  const r = await cairnBin([...(repo ? ['--repo', repo] : []), 'snapshots', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { type: string; id: string })
    .filter((o) => o.type === 'snapshot')
    .map((o) => o.id)
    .sort();
}

/** The id of the snapshot tagged `tag` in the repository of `env`. */
async function snapshotIdTagged(env: NodeJS.ProcessEnv, tag: string): Promise<string> {
  const r = await cairnBin(['snapshots', '--json', '--tag', tag], env);
  expect(r.code, r.stderr).toBe(0);
  const ids = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { type: string; id: string })
    .filter((o) => o.type === 'snapshot')
    .map((o) => o.id);
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

/** Restores `selector` into a fresh directory and returns its files. */
async function restoredFiles(
  env: NodeJS.ProcessEnv,
  selector: string,
  repo?: string,
): Promise<Map<string, string>> {
  const target = await tempDir('cairn-crash-target-');
  const r = await cairnBin(
    [...(repo ? ['--repo', repo] : []), 'restore', selector, '--target', target],
    env,
  );
  expect(r.code, r.stderr).toBe(0);
  return readFiles(target);
}

/** Runs `args`, kills it with SIGKILL after `ms` (if still running). */
async function killAfter(args: string[], env: NodeJS.ProcessEnv, ms: number): Promise<void> {
  const { child, done } = startCairn(args, env);
  await delay(ms);
  child.kill('SIGKILL');
  await done;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = Date.now();
  await fn();
  return Date.now() - t;
}

async function expectCheckClean(env: NodeJS.ProcessEnv, repo?: string): Promise<void> {
  const c = await cairnBin([...(repo ? ['--repo', repo] : []), 'check', '--read-data'], env);
  expect(c.code, `${c.stdout}\n${c.stderr}`).toBe(0);
}

/**
 * Kills `backup` at random moments in the repository of `env`, `rounds` times; after each
 * kill the repository checks clean, keeps its snapshots, restores a committed one
 * byte-exact, and takes the next backup.
 */
async function backupCrashLoop(
  env: NodeJS.ProcessEnv,
  rounds: number,
  random: () => number,
): Promise<void> {
  const src = await tempDir('cairn-crash-src-');
  await writeSource(src, 1);
  const committed = new Map<string, Map<string, string>>();
  let duration = 0;
  {
    const files = await readFiles(src);
    duration = await timed(async () => {
      const b = await cairnBin(['backup', src, '--tag', 'first'], env);
      expect(b.code, b.stderr).toBe(0);
    });
    committed.set('tag:first', files);
  }
  let before = await snapshotIds(env);
  for (let round = 0; round < rounds; round++) {
    // New and changed content, so the killed run has real work to do.
    await writeFile(join(src, `new-${round}.bin`), pseudoRandomBytes(400_000, 1000 + round));
    await writeFile(join(src, 'big-0.bin'), pseudoRandomBytes(300_000, 2000 + round));
    await killAfter(['backup', src], env, random() * duration * 1.2);
    await expectCheckClean(env);
    const after = await snapshotIds(env);
    for (const id of before) expect(after.some((a) => a.startsWith(id))).toBe(true);
    before = after;
    // Every committed snapshot still restores byte-exact (checked on a rotating one
    // each round, all of them at the end).
    const sample = [...committed.keys()][round % committed.size]!;
    expect(await restoredFiles(env, sample)).toEqual(committed.get(sample));
    // Commit this state as a tagged snapshot for later rounds to protect.
    const files = await readFiles(src);
    const b = await cairnBin(['backup', src, '--tag', `r${round}`], env);
    expect(b.code, b.stderr).toBe(0);
    committed.set(`tag:r${round}`, files);
    const saved = /snapshot ([0-9a-f]+) saved/.exec(b.stdout)?.[1];
    expect(saved).toBeDefined();
    before = [...before, `${saved}`]; // a prefix: checked with startsWith below
  }
  await expectCheckClean(env);
  for (const [selector, files] of committed) {
    expect(await restoredFiles(env, selector)).toEqual(files);
  }
}

describe(`kill -9 at random moments (${ROUNDS} rounds, ${SYNC_ROUNDS} for sync, seed ${SEED})`, () => {
  it(
    'during backup: check passes, committed snapshots restore, the next backup completes',
    async () => {
      const { env } = await setup();
      await backupCrashLoop(env, ROUNDS, seeded(SEED));
    },
    LOOP_TIMEOUT_MS,
  );

  it(
    'during restore: the target never holds a half-written file, and a rerun completes',
    async () => {
      const random = seeded(SEED + 1);
      const { env } = await setup();
      const src = await tempDir('cairn-crash-src-');
      await writeSource(src, 2);
      // Larger files: a restore spends most of its time writing them.
      for (let i = 0; i < 4; i++) {
        await writeFile(join(src, `huge-${i}.bin`), pseudoRandomBytes(1_500_000, 50 + i));
      }
      expect((await cairnBin(['backup', src], env)).code).toBe(0);
      const expected = await readFiles(src);
      const target = join(await tempDir('cairn-crash-target-'), 'restored');
      const duration = await timed(async () => {
        const probe = await tempDir('cairn-crash-probe-');
        expect((await cairnBin(['restore', 'latest', '--target', probe], env)).code).toBe(0);
      });
      for (let round = 0; round < ROUNDS; round++) {
        await killAfter(['restore', 'latest', '--target', target], env, random() * duration * 1.2);
        expect(await halfWrittenFiles(target, expected)).toEqual([]);
      }
      const r = await cairnBin(['restore', 'latest', '--target', target], env);
      expect(r.code, r.stderr).toBe(0);
      expect(await readFiles(target)).toEqual(expected);
      // Known gap (docs/guarantees.md): temporary files of killed restores stay behind.
      const leftovers = await tempFilesBelow(target);
      for (const t of leftovers) expect(t).toMatch(/\.cairn-tmp-[0-9a-f]{16}$/);
    },
    LOOP_TIMEOUT_MS,
  );

  it(
    'during sync: the destination checks clean, keeps what it had, and a rerun completes',
    async () => {
      const random = seeded(SEED + 2);
      const { env, repo: source } = await setup();
      const src = await tempDir('cairn-crash-src-');
      await writeSource(src, 3);
      const versions = new Map<string, Map<string, string>>();
      for (let v = 0; v < 3; v++) {
        await writeFile(join(src, `v${v}.bin`), pseudoRandomBytes(600_000, 300 + v));
        versions.set(`tag:v${v}`, await readFiles(src));
        expect((await cairnBin(['backup', src, '--tag', `v${v}`], env)).code).toBe(0);
      }
      const initDest = async () => {
        const dest = join(await tempDir('cairn-crash-dst-'), 'repo');
        const i = await cairnBin(['--repo', dest, 'init', '--copy-params-from', source], env);
        expect(i.code, i.stderr).toBe(0);
        return dest;
      };
      const duration = await timed(async () => {
        expect((await cairnBin(['sync', source, await initDest()], env)).code).toBe(0);
      });
      const all = await snapshotIds(env);
      const v0 = await snapshotIdTagged(env, 'v0');
      let dest = '';
      for (let round = 0; round < SYNC_ROUNDS; round++) {
        // A fresh destination each round, with one snapshot committed before the crash.
        dest = await initDest();
        expect((await cairnBin(['sync', source, dest, 'tag:v0'], env)).code).toBe(0);
        const before = [v0];
        await killAfter(['sync', source, dest], env, random() * duration * 1.2);
        await expectCheckClean(env, dest);
        const after = await snapshotIds(env, dest);
        for (const id of before) expect(after).toContain(id);
        expect(await restoredFiles(env, 'tag:v0', dest)).toEqual(versions.get('tag:v0'));
        const s = await cairnBin(['sync', source, dest], env);
        expect(s.code, s.stderr).toBe(0);
        expect(await snapshotIds(env, dest)).toEqual(all);
      }
      // Same ids and a clean --read-data check mean the same content; restore the newest too.
      await expectCheckClean(env, dest);
      expect(await restoredFiles(env, 'tag:v2', dest)).toEqual(versions.get('tag:v2'));
    },
    LOOP_TIMEOUT_MS,
  );
  it(
    'during prune: check passes, kept snapshots restore, the next backup and a rerun of prune complete, leaving no unreferenced blob',
    async () => {
      const random = seeded(SEED + 3);
      const { env } = await setup();
      const src = await tempDir('cairn-crash-src-');
      await writeSource(src, 4);
      await writePagedDir(src, 4);
      /** Kept snapshots (tag `keep`): short id -> the files they hold. */
      const kept = new Map<string, Map<string, string>>();
      const backupKept = async () => {
        const files = await readFiles(src);
        const b = await cairnBin(['backup', src, '--tag', 'keep'], env);
        expect(b.code, b.stderr).toBe(0);
        const saved = /snapshot ([0-9a-f]+) saved/.exec(b.stdout)?.[1];
        expect(saved).toBeDefined();
        kept.set(saved!, files);
      };
      await backupKept();
      /**
       * Gives prune real work: new and changed content (data, a leaf page and index of
       * the paged directory, the root), backed up untagged and forgotten at once.
       */
      const makeGarbage = async (n: number) => {
        await writeFile(join(src, `new-${n}.bin`), pseudoRandomBytes(400_000, 5000 + n));
        await writeFile(join(src, 'big-0.bin'), pseudoRandomBytes(300_000, 6000 + n));
        await writeFile(join(src, 'deep', 'er', 'mid.bin'), pseudoRandomBytes(200_000, 7000 + n));
        for (let i = 0; i < 3; i++) {
          const name = `entry-${(n * 37 + i * 101) % 300}.txt`;
          await writeFile(join(src, 'paged', name), pseudoRandomBytes(900, 8000 + n * 3 + i));
        }
        const b = await cairnBin(['backup', src], env);
        expect(b.code, b.stderr).toBe(0);
        const f = await cairnBin(['forget', '--keep-tag', 'keep'], env);
        expect(f.code, f.stderr).toBe(0);
      };
      // Measure one complete prune (it also leaves a clean start): it has real work.
      await makeGarbage(-1);
      const duration = await timed(async () => {
        const p = await cairnBin(['prune', '--grace', '0', '--json'], env);
        expect(p.code, p.stderr).toBe(0);
        const report = jsonSummary(p.stdout);
        expect(report.deletedTrees).toBeGreaterThan(1);
        expect(report.deletedData).toBeGreaterThan(0);
      });
      for (let round = 0; round < PRUNE_ROUNDS; round++) {
        await makeGarbage(round);
        await killAfter(['prune', '--grace', '0'], env, random() * duration * 1.2);
        // No kept snapshot lost anything: --read-data reads every blob they reference.
        await expectCheckClean(env);
        const sample = [...kept.keys()][round % kept.size]!;
        expect(await restoredFiles(env, sample)).toEqual(kept.get(sample));
        // The next backup (of the source of the forgotten snapshot, so the stat cache
        // offers the trees prune may have half deleted) completes; it restores exactly
        // (checked with every kept snapshot at the end).
        await backupKept();
        // A rerun of prune completes and leaves nothing unreferenced.
        const p = await cairnBin(['prune', '--grace', '0'], env);
        expect(p.code, `${p.stdout}\n${p.stderr}`).toBe(0);
        expect(await unreferencedBlobs(env)).toBe(0);
      }
      await expectCheckClean(env);
      const ids = await snapshotIds(env);
      expect(ids).toHaveLength(kept.size);
      for (const [id, files] of kept) {
        expect(ids.some((a) => a.startsWith(id))).toBe(true);
        expect(await restoredFiles(env, id)).toEqual(files);
      }
    },
    LOOP_TIMEOUT_MS,
  );
});

// S3 (Ceph RGW on loopback): starting RGW takes a few seconds, so CI runs one round.
describe(`kill -9 at random moments on S3 (${S3_ROUNDS} rounds, seed ${SEED})`, () => {
  const rgw = rgwBucketFixture('crash');

  it(
    'during backup to S3: check passes, committed snapshots restore, the next backup completes',
    async () => {
      const { env } = await setup(
        rgw.bucket.url('crash-backup'),
        { AWS_ACCESS_KEY_ID: rgw.server.accessKey, AWS_SECRET_ACCESS_KEY: rgw.server.secretKey },
        INIT_S3,
      );
      await backupCrashLoop(env, S3_ROUNDS, seeded(SEED + 4));
    },
    LOOP_TIMEOUT_MS,
  );
});
