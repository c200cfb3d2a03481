/**
 * Chunk size study: dedup against object count on real data, to pick cairn's default
 * chunker sizes.
 *
 * Data: consecutive releases of the `typescript` npm package (fetched once with
 * `npm pack` into .bench/packages, which is gitignored, and extracted there with tar).
 * Each release is added in order to one simulated repository. Files are chunked one by
 * one (FastCDC 2020, level 1, min = avg/4, max = avg*4); a chunk's id is its sha256, and
 * each distinct chunk is one stored object. Variants store files smaller than T bytes
 * inline (their bytes count, they are not objects, and - pessimistically - they never
 * dedup). A whole-file row (one object per distinct file) is given for comparison.
 *
 *   npx tsc -p tsconfig.build.json && node bench/chunk-size-study.mjs [version ...]
 *
 * Prints markdown tables. Sizes: KiB/MiB (2^10/2^20).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { distModule } from './dist.mjs';
import { DEFAULT_VERSIONS, PACKAGE, release } from './releases.mjs';

const { chunkerParams, FastCDC } = await distModule('chunker/index.js');

const KiB = 1024;
const MiB = 1024 * 1024;
const AVGS = [16, 32, 64, 128, 256, 1024].map((k) => k * KiB);
const INLINE = [0, 4 * KiB, 16 * KiB];

/** All regular files under `dir`, sorted by relative path, with their contents. */
function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push({ path: relative(dir, p), data: readFileSync(p) });
    }
  };
  walk(dir);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/**
 * Simulates adding each release in order. `chunksOf(file)` returns [id, length] pairs.
 * Returns totals and the per-release bytes/objects newly stored.
 */
function simulate(releases, chunksOf, inlineBelow) {
  const seen = new Set();
  let input = 0;
  let stored = 0;
  let objects = 0;
  let inlineFiles = 0;
  const perRelease = [];
  for (const rel of releases) {
    let newBytes = 0;
    let newObjects = 0;
    for (const f of rel) {
      input += f.data.length;
      if (f.data.length < inlineBelow) {
        inlineFiles++;
        newBytes += f.data.length;
        continue;
      }
      for (const [id, length] of chunksOf(f)) {
        if (seen.has(id)) continue;
        seen.add(id);
        newBytes += length;
        newObjects++;
      }
    }
    stored += newBytes;
    objects += newObjects;
    perRelease.push({ newBytes, newObjects });
  }
  return { input, stored, objects, inlineFiles, perRelease };
}

function main() {
  const versions = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_VERSIONS;
  const releases = versions.map((v) => files(release(v)));
  const fileCount = releases.reduce((s, r) => s + r.length, 0);
  const bytes = releases.reduce((s, r) => s + r.reduce((t, f) => t + f.data.length, 0), 0);
  console.log(
    `${PACKAGE} ${versions.join(', ')}: ${fileCount} files, ${(bytes / MiB).toFixed(1)} MiB in total\n`,
  );

  const rows = [];
  const fmt = (n, d = 1) => n.toFixed(d);
  const addRow = (label, inlineBelow, r) => {
    const later = r.perRelease.slice(1);
    const meanNew = later.reduce((s, x) => s + x.newBytes, 0) / later.length;
    const meanObj = later.reduce((s, x) => s + x.newObjects, 0) / later.length;
    rows.push({ label, inlineBelow, r, meanNew, meanObj });
  };

  // Whole-file baseline: one object per distinct file content.
  const fileIds = new Map();
  const wholeFile = (f) => {
    let id = fileIds.get(f.data);
    if (id === undefined) {
      id = sha256(f.data);
      fileIds.set(f.data, id);
    }
    return [[id, f.data.length]];
  };
  addRow('whole files', 0, simulate(releases, wholeFile, 0));

  const perReleaseRows = [];
  for (const avg of AVGS) {
    const cdc = new FastCDC(chunkerParams({ min: avg / 4, avg, max: avg * 4 }));
    const cache = new Map();
    const chunksOf = (f) => {
      let c = cache.get(f.data);
      if (c === undefined) {
        c = cdc
          .cutPoints(f.data)
          .map((s) => [sha256(f.data.subarray(s.offset, s.offset + s.length)), s.length]);
        cache.set(f.data, c);
      }
      return c;
    };
    const label = `${avg / KiB}K (${avg / 4 / KiB}K..${(avg * 4) / KiB}K)`;
    for (const t of INLINE) {
      const r = simulate(releases, chunksOf, t);
      addRow(label, t, r);
      if (t === 0) perReleaseRows.push({ label: `${avg / KiB}K`, r });
    }
  }

  console.log(
    '| chunks avg (min..max) | inline below | input MiB | stored MiB | dedup ratio | objects | mean object KiB | inline files | new MiB per release | new objects per release |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { label, inlineBelow, r, meanNew, meanObj } of rows) {
    const chunked = r.stored - inlineStoredBytes(releases, inlineBelow);
    console.log(
      `| ${label} | ${inlineBelow ? `${inlineBelow / KiB}K` : '-'} | ${fmt(r.input / MiB)} | ${fmt(r.stored / MiB)} | ${fmt(r.input / r.stored, 2)} | ${r.objects} | ${r.objects ? fmt(chunked / r.objects / KiB) : '-'} | ${r.inlineFiles} | ${fmt(meanNew / MiB, 2)} | ${Math.round(meanObj)} |`,
    );
  }

  console.log('\nBytes (MiB) and objects newly stored when each release is added (no inlining):\n');
  console.log(`| chunks avg | ${versions.join(' | ')} |`);
  console.log(`| --- | ${versions.map(() => '---:').join(' | ')} |`);
  const whole = rows[0].r;
  const line = (label, r) =>
    `| ${label} | ${r.perRelease.map((x) => `${fmt(x.newBytes / MiB)} / ${x.newObjects}`).join(' | ')} |`;
  console.log(line('whole files', whole));
  for (const { label, r } of perReleaseRows) console.log(line(label, r));
}

/** Bytes of all files below the inline threshold (they are stored as is, every time). */
function inlineStoredBytes(releases, inlineBelow) {
  let n = 0;
  for (const rel of releases)
    for (const f of rel) if (f.data.length < inlineBelow) n += f.data.length;
  return n;
}

main();
