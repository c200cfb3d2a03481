// `npm run bench`: measures cairn on this machine and prints a table.
// Corpora are generated deterministically under .bench/ (kept between runs).
// Env: BENCH_MB (fresh-backup corpus size, default 1024), BENCH_SMALL (small files, default 100000).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeLargeCorpus, writeSmallFiles } from './corpus.mjs';

const root = join(process.cwd(), '.bench');
const MB = Number(process.env.BENCH_MB ?? 1024);
const SMALL = Number(process.env.BENCH_SMALL ?? 100_000);
const rows = [];

function step(name, args) {
  const out = execFileSync(process.execPath, ['bench/step.mjs', name, JSON.stringify(args)], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split('\n').pop());
}
function row(what, value, extra = '') {
  rows.push([what, value, extra]);
  console.log(`${what.padEnd(48)} ${String(value).padStart(14)}  ${extra}`);
}
const mbps = (bytes, ms) => (bytes / 1048576 / (ms / 1000)).toFixed(0);

// Large deletes slow down file creation on ext4 for minutes afterwards, so a timed step
// never follows one: each run works in its own new folder, and the folders of earlier
// runs are removed only at the very end.
const RUN = join(root, `run-${Date.now()}`);
async function fresh(name) {
  const dir = join(RUN, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

console.log(`cairn benchmark — node ${process.version}, ${MB} MiB corpus, ${SMALL} small files\n`);

// 1. chunker
try {
  const { benchChunker } = await import('./chunker-bench.mjs');
  const c = await benchChunker({ sizeMiB: 256 });
  row(
    'chunker cut points (1 core, random data)',
    `${c.mbPerSec.toFixed(0)} MB/s`,
    `${c.chunks} chunks`,
  );
} catch (err) {
  row('chunker', 'n/a', String(err.message));
}

// 2. fresh backup of a large corpus, then restore
const large = join(root, `large-${MB}`);
if (!existsSync(large)) await writeLargeCorpus(large, MB * 1048576, 200);
const repo1 = await fresh('repo-large');
const cache1 = await fresh('cache-large');
step('init', { repo: repo1 });
const b = step('backup', { repo: repo1, src: large, cache: cache1 });
row(
  'fresh backup',
  `${mbps(b.summary.bytes, b.ms)} MiB/s`,
  `${(b.ms / 1000).toFixed(2)} s, ${b.summary.files} files, peak RSS ${b.maxRssMiB.toFixed(0)} MiB`,
);
const s1 = step('stats', { repo: repo1 });
row(
  '  repository objects / bytes',
  s1.objects,
  `${(s1.storedBytes / 1048576).toFixed(0)} MiB stored`,
);
const b2 = step('backup', { repo: repo1, src: large, cache: cache1 });
row(
  'no-change backup (large files)',
  `${(b2.ms / 1000).toFixed(2)} s`,
  `peak RSS ${b2.maxRssMiB.toFixed(0)} MiB`,
);
const target1 = await fresh('restore-large');
const r = step('restore', { repo: repo1, target: target1 });
row(
  'restore',
  `${mbps(r.summary.bytes, r.ms)} MiB/s`,
  `${(r.ms / 1000).toFixed(2)} s, peak RSS ${r.maxRssMiB.toFixed(0)} MiB`,
);

// 3. many small files
const small = join(root, `small-${SMALL}`);
if (!existsSync(small)) await writeSmallFiles(small, SMALL);
const repo2 = await fresh('repo-small');
const cache2 = await fresh('cache-small');
step('init', { repo: repo2 });
const sb = step('backup', { repo: repo2, src: small, cache: cache2 });
row(
  `first backup, ${SMALL} small files`,
  `${(sb.ms / 1000).toFixed(2)} s`,
  `peak RSS ${sb.maxRssMiB.toFixed(0)} MiB`,
);
const s2 = step('stats', { repo: repo2 });
row(
  `  repository objects for ${SMALL} small files`,
  s2.objects,
  `${s2.dataBlobs} data + ${s2.treeBlobs} tree blobs`,
);
const sb2 = step('backup', { repo: repo2, src: small, cache: cache2 });
row(
  `no-change backup, ${SMALL} small files`,
  `${(sb2.ms / 1000).toFixed(2)} s`,
  `${sb2.summary.filesUnchanged} unchanged, peak RSS ${sb2.maxRssMiB.toFixed(0)} MiB`,
);
const target2 = await fresh('restore-small');
const sr = step('restore', { repo: repo2, target: target2 });
row(
  `restore ${SMALL} small files`,
  `${(sr.ms / 1000).toFixed(2)} s`,
  `peak RSS ${sr.maxRssMiB.toFixed(0)} MiB`,
);

// 4. build versions: consecutive npm releases side by side
try {
  const { benchBuilds } = await import('./builds-bench.mjs');
  for (const [what, value, notes] of await benchBuilds({ root })) row(what, value, notes);
} catch (err) {
  row('build versions', 'n/a', String(err.message).split('\n')[0]);
}

// 5. encryption and compression: their cost on backup throughput
try {
  const { benchCodecs } = await import('./crypto-bench.mjs');
  for (const [what, value, notes] of await benchCodecs({ root })) row(what, value, notes);
} catch (err) {
  row('encryption and compression', 'n/a', String(err.message).split('\n')[0]);
}

// 6. S3: backup into and sync to a throwaway Ceph RGW on loopback (skipped without Ceph)
try {
  const { benchS3 } = await import('./s3-bench.mjs');
  for (const [what, value, notes] of await benchS3({ root })) row(what, value, notes);
} catch (err) {
  row('S3 backup and sync', 'n/a', String(err.message).split('\n')[0]);
}

// Clean up this run's folders and any older ones, after everything was timed.
for (const name of await readdir(root)) {
  if (name.startsWith('run-')) await rm(join(root, name), { recursive: true, force: true });
}

console.log('\n| measure | value | notes |\n| --- | --- | --- |');
for (const [a, v, e] of rows) console.log(`| ${a.trim()} | ${v} | ${e} |`);
