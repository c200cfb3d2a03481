// "Memory does not grow with the repository": peak RSS of backup, restore and check
// against a repository of 10 thousand blobs and one of 10 million, simulated.
//
// Simulation: a real local repository whose blob inventory (src/repo/inventory.ts, the
// level database backup consults before writing a chunk) was filled from a listing that
// held N made-up data blobs besides the real ones (step `fill-inventory`). The backups
// below open the repository with that inventory, so every chunk lookup goes to a
// database of N entries, as it would for a remote repository of N blobs. Fixtures are
// built once and kept in .bench/rss-fixture-N (10M takes a few minutes).
// `check` cannot use the inventory (it must see the backend), so it runs against a
// backend whose `data/` listing yields N made-up blobs (step `check`, `fake`).
// Restore reads only the snapshot's own trees and chunks: the repository's size can
// reach it only through the snapshot, so it is run for the record.
//
// Env: BENCH_RSS_BLOBS (default 10000,10000000), BENCH_RSS_CHECK (blob counts for the
// check rows, default 10000,10000000; the 10M check takes about 2.5 minutes: check
// sorts its sets in run files on disk past 32,768 keys, src/repo/external-sort-set.ts).
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeLargeCorpus } from './corpus.mjs';
import { cairnStep } from './tools.mjs';

const MiB = 1048576;
const list = (text, fallback) =>
  (text ?? fallback)
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);

/** The blob counts simulated. */
export const RSS_BLOBS = list(process.env.BENCH_RSS_BLOBS, '10000,10000000');
/** The blob counts the check rows simulate. */
export const RSS_CHECK = list(process.env.BENCH_RSS_CHECK, '10000,10000000');

const fmt = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}K` : String(n));

/** Builds (once) the fixture of `blobs` simulated blobs; resolves its paths and setup cost. */
export async function ensureFixture(root, blobs, scratch) {
  const dir = join(root, `rss-fixture-${blobs}`);
  const repo = join(dir, 'repo');
  const inventoryDir = join(dir, 'inventory');
  const ready = join(dir, 'ready.json');
  if (existsSync(ready)) {
    const info = JSON.parse(await readFile(ready, 'utf8'));
    if (!info.compactMs) {
      // fixtures made before compaction was part of the setup
      info.compactMs = (await cairnStep('compact-inventory', { inventoryDir }, scratch)).wallMs;
      await writeFile(ready, JSON.stringify(info));
    }
    return { repo, inventoryDir, ...info };
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cairnStep('init', { repo }, scratch);
  const fill = await cairnStep('fill-inventory', { repo, inventoryDir, fake: blobs }, scratch);
  const compact = await cairnStep('compact-inventory', { inventoryDir }, scratch);
  const info = {
    fillMs: fill.wallMs,
    fillRssMiB: fill.rssMiB,
    listed: fill.blobs,
    compactMs: compact.wallMs,
    built: true,
  };
  await writeFile(ready, JSON.stringify({ ...info, built: false }));
  return { repo, inventoryDir, ...info };
}

/**
 * Runs the scenario once; resolves rows { scenario, title, tool, ms, rssMiB, notes }.
 * `dir` is this run's fresh folder; `root` holds the fixtures.
 */
export async function benchRssScale({ root, dir, scratch, run = 0 }) {
  const rows = [];
  const row = (title, r, notes = '') =>
    rows.push({ scenario: 'rss-10m', title, tool: 'cairn', ms: r.wallMs, rssMiB: r.rssMiB, notes });
  // New data for every run, so the first backup always writes (a deterministic sequence).
  const seedFile = join(root, 'rss-seed');
  const seed = existsSync(seedFile) ? Number(await readFile(seedFile, 'utf8')) + 1 : 0;
  await writeFile(seedFile, String(seed));
  const corpus = join(dir, 'rss-corpus');
  await writeLargeCorpus(corpus, 128 * MiB, 32, `rss${seed}-`);
  for (const blobs of RSS_BLOBS) {
    const f = await ensureFixture(root, blobs, scratch);
    const label = `${fmt(blobs)} blobs`;
    if (f.built && run === 0) {
      row(
        `inventory fill: one listing of ${label}, then full compaction`,
        { wallMs: f.fillMs + f.compactMs, rssMiB: f.fillRssMiB },
        `setup, once per fixture (kept in .bench/); listing ${(f.fillMs / 1000).toFixed(0)} s + compaction ${(f.compactMs / 1000).toFixed(0)} s; RSS is the listing's`,
      );
    }
    const tag = `seed-${seed}`;
    const b1 = await cairnStep(
      'backup',
      { repo: f.repo, src: corpus, inventoryDir: f.inventoryDir, tag },
      scratch,
    );
    row(
      `backup 128 MiB new data, repository of ${label}`,
      b1,
      `inventory ${b1.inventory?.hits ?? 0} hits / ${b1.inventory?.misses ?? 0} misses`,
    );
    const b2 = await cairnStep(
      'backup',
      { repo: f.repo, src: corpus, inventoryDir: f.inventoryDir, tag: `${tag}-again` },
      scratch,
    );
    row(
      `backup same 128 MiB again (every chunk looked up), ${label}`,
      b2,
      `inventory ${b2.inventory?.hits ?? 0} hits / ${b2.inventory?.misses ?? 0} misses`,
    );
    const target = join(dir, `rss-restore-${blobs}`);
    const r = await cairnStep('restore', { repo: f.repo, target, tag }, scratch);
    row(`restore 128 MiB, repository of ${label}`, r);
  }
  for (const blobs of RSS_CHECK) {
    const f = await ensureFixture(root, RSS_BLOBS[0], scratch);
    const c = await cairnStep('check', { repo: f.repo, fake: blobs }, scratch);
    row(
      `check (no --read-data), data/ listing of ${fmt(blobs)} blobs`,
      c,
      `${c.unreferencedBlobs} unreferenced; sets sorted on disk past 32,768 keys`,
    );
  }
  return rows;
}
