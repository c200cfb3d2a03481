/**
 * Faulty networks: a FaultyBackend (errors before and after the call, broken listings)
 * under a RetryBackend around a LocalBackend; backup, restore and sync complete and the
 * repository checks clean. A wrapper that corrupts or truncates response bodies shows
 * that a damaged object is never accepted: restore reports it and leaves no wrong file,
 * sync fails without committing anything that references it.
 */
import { describe, expect, it } from 'vitest';
import type { GetOptions } from '../../src/backends/backend.js';
import { FaultyBackend } from '../../src/backends/faulty.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { RetryBackend } from '../../src/backends/retry.js';
import { backup } from '../../src/ops/backup.js';
import { check } from '../../src/ops/check.js';
import type { RestoreEvent } from '../../src/ops/events.js';
import { restore } from '../../src/ops/restore.js';
import { sync } from '../../src/ops/sync.js';
import { paramsOf } from '../../src/repo/config.js';
import { initRepository, openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { tempDir } from '../helpers/fs.js';
import {
  halfWrittenFiles,
  iterations,
  LOOP_TIMEOUT_MS,
  readFiles,
  SEED,
  seeded,
  tempFilesBelow,
} from '../helpers/reliability.js';
import { TINY_CHUNKS } from '../helpers/repo.js';
import { writeSource } from '../helpers/sync-fixtures.js';

const ROUNDS = iterations(2, 20);

/** Flips a byte in, or truncates, a share of the `data/` bodies it returns. */
class CorruptingBackend extends ForwardingBackend {
  corrupted = 0;
  private readonly random: () => number;

  constructor(
    inner: ConstructorParameters<typeof ForwardingBackend>[0],
    seed: number,
    private readonly rate: number,
  ) {
    super(inner);
    this.random = seeded(seed);
  }

  override async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    const body = await this.inner.get(key, options);
    if (!key.startsWith('data/') || this.random() >= this.rate) return body;
    this.corrupted++;
    const copy = Uint8Array.from(body);
    if (this.random() < 0.5) return copy.subarray(0, Math.floor(this.random() * copy.length));
    copy[Math.floor(this.random() * copy.length)]! ^= 1 << Math.floor(this.random() * 8);
    return copy;
  }
}

/** A local repository and the same directory opened through `wrap`. */
async function repoThrough(
  wrap: (b: LocalBackend) => ConstructorParameters<typeof ForwardingBackend>[0],
  params: Parameters<typeof initRepository>[1] = { chunker: TINY_CHUNKS, inlineMax: 32 },
) {
  const dir = await tempDir('cairn-net-');
  await (await initRepository(new LocalBackend(dir), params)).close();
  const plain = await openRepositoryIn(new LocalBackend(dir));
  const wrapped = await openRepositoryIn(wrap(new LocalBackend(dir)));
  return { plain, wrapped };
}

function faultyRetrying(seed: number) {
  let faulty: FaultyBackend | undefined;
  let retries = 0;
  const wrap = (b: LocalBackend) => {
    faulty = new FaultyBackend(b, { failRate: 0.15, seed });
    return new RetryBackend(faulty, {
      retries: 12,
      baseDelayMs: 1,
      maxDelayMs: 4,
      onRetry: () => {
        retries++;
      },
    });
  };
  return { wrap, faults: () => faulty?.faults ?? 0, retries: () => retries };
}

async function expectClean(repo: Repository): Promise<void> {
  const report = await check(repo, { readData: true });
  expect(report.problems).toEqual([]);
}

async function restoreCollecting(repo: Repository, id: string, target: string) {
  const warnings: Array<{ code: string; message: string }> = [];
  const summary = await restore(repo, id, await repo.snapshots.load(id), {
    target,
    onEvent: (e: RestoreEvent) => {
      if (e.type === 'warning') warnings.push(e);
    },
  });
  return { summary, warnings };
}

describe(`faulty network (${ROUNDS} seeds from ${SEED})`, () => {
  it(
    'backup, restore and sync through injected faults complete, and check is clean',
    async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const src = await tempDir('cairn-net-src-');
        await writeSource(src);
        const a = faultyRetrying(SEED + round);
        const source = await repoThrough(a.wrap);
        const { snapshotId } = await backup(source.wrapped, { paths: [src], statCacheDir: false });
        const target = await tempDir('cairn-net-target-');
        const r = await restoreCollecting(source.wrapped, snapshotId!, target);
        expect(r.warnings).toEqual([]);
        expect(await readFiles(target)).toEqual(await readFiles(src));
        const b = faultyRetrying(SEED + 100 + round);
        const dest = await repoThrough(b.wrap, paramsOf(source.plain.config));
        const report = await sync(source.wrapped, dest.wrapped);
        expect(report.copied).toEqual([snapshotId]);
        await expectClean(source.plain);
        await expectClean(dest.plain);
        // The faults really happened, and were retried.
        expect(a.faults() + b.faults()).toBeGreaterThan(10);
        expect(a.retries() + b.retries()).toBeGreaterThanOrEqual(a.faults() + b.faults());
        for (const repo of [source.plain, source.wrapped, dest.plain, dest.wrapped])
          await repo.close();
      }
    },
    LOOP_TIMEOUT_MS,
  );

  it(
    'corrupted and truncated bodies are never accepted by restore',
    async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const src = await tempDir('cairn-net-src-');
        await writeSource(src);
        let corrupting: CorruptingBackend | undefined;
        const repo = await repoThrough((b) => {
          corrupting = new CorruptingBackend(b, SEED + round, 0.3);
          return corrupting;
        });
        const { snapshotId } = await backup(repo.plain, { paths: [src], statCacheDir: false });
        const target = await tempDir('cairn-net-target-');
        const r = await restoreCollecting(repo.wrapped, snapshotId!, target);
        expect(corrupting!.corrupted).toBeGreaterThan(0);
        // Each damaged file is reported; what is in the target is exactly the snapshot's.
        expect(r.warnings.length).toBeGreaterThan(0);
        for (const w of r.warnings) expect(['integrity', 'format']).toContain(w.code);
        expect(await halfWrittenFiles(target, await readFiles(src))).toEqual([]);
        // A directory whose listing was damaged is in place too, with what could be read.
        expect(await tempFilesBelow(target)).toEqual([]);
        // The repository itself is fine: a clean read restores everything.
        await expectClean(repo.plain);
        await repo.plain.close();
        await repo.wrapped.close();
      }
    },
    LOOP_TIMEOUT_MS,
  );

  it('sync from a source returning corrupted bodies names the snapshot and commits none', async () => {
    const src = await tempDir('cairn-net-src-');
    await writeSource(src);
    const source = await repoThrough((b) => new CorruptingBackend(b, SEED, 0.3));
    const { snapshotId } = await backup(source.plain, { paths: [src], statCacheDir: false });
    const dest = await repoThrough((b) => b, paramsOf(source.plain.config));
    // Passed over as a snapshot the source cannot give whole (a rerun fetches again).
    const report = await sync(source.wrapped, dest.plain);
    expect(report.copied).toEqual([]);
    expect(report.failed.map((f) => f.id)).toEqual([snapshotId]);
    expect(['integrity', 'format']).toContain(report.failed[0]!.code);
    expect(await dest.plain.snapshots.ids()).toEqual([]);
    await expectClean(dest.plain);
    for (const repo of [source.plain, source.wrapped, dest.plain]) await repo.close();
  });
});
