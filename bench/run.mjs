// `npm run bench`: cairn against restic, borg and casync (whichever are installed) on
// the same deterministic corpora, in the same run, interleaved per scenario (each
// scenario runs every tool before the next scenario starts, and the tool order rotates
// from run to run), so disk and page-cache state affect all tools alike.
// Prints one table and writes it to .bench/results.md and .bench/results.json.
//
// Env:
//   BENCH_RUNS   runs per scenario; the table shows medians (default 1; the issue's
//                peer figures are medians of 3: BENCH_RUNS=3)
//   BENCH_ONLY   comma-separated scenario keys (see SCENARIOS; `all` adds the opt-in ones)
//   BENCH_PEERS  0 to run cairn only
//   BENCH_MB     large corpus size in MiB (default 2048), BENCH_SMALL small files (100000)
//   CAIRN_DIST   the cairn build to use (default ../dist)
//   BENCH_SETTLE seconds to wait after deleting earlier repositories before anything is
//                timed (default 75; see settleAfterDeletes)
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ensureCorpus, writeLargeCorpus, writeModifiedCopy, writeSmallFiles } from './corpus.mjs';
import { DIST } from './dist.mjs';
import { DEFAULT_VERSIONS, release } from './releases.mjs';
import { benchRssScale } from './rss-scale.mjs';
import { makeTools } from './tools.mjs';
import { treeSize } from './tree-size.mjs';
import { warmUp } from './warm.mjs';

const root = join(import.meta.dirname, '..', '.bench');
const MB = Number(process.env.BENCH_MB ?? 2048);
const SMALL = Number(process.env.BENCH_SMALL ?? 100_000);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 1));
const PEERS = process.env.BENCH_PEERS !== '0';
const MiB = 1048576;
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE ?? 75);

/**
 * The issue's rule: no big delete right before a timed step. This ext4 (no journal)
 * will not hand out an inode freed less than 60 s ago (360 s while its inode table
 * block is dirty) and looks each candidate up first, so for a minute or more after
 * tens of thousands of files are deleted every create scans past them, and tools that
 * write one file per object (cairn, casync) pay it per object. So after deleting: write
 * everything out (`sync`: the tables are clean, 60 s applies), then wait past it.
 */
async function settleAfterDeletes(what) {
  if (SETTLE_SECONDS <= 0) return;
  execFileSync('sync');
  console.log(`(waiting ${SETTLE_SECONDS} s after deleting ${what}, before timing anything)`);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000));
}

// Scenarios in run order. `needs`: scenarios whose repositories this one uses (added to
// a BENCH_ONLY selection automatically). `optIn`: only with BENCH_ONLY naming it or `all`.
const SCENARIOS = [
  { key: 'fresh-2g', title: `fresh backup, ${MB} MiB in 200 files` },
  {
    key: 'modified-2g',
    title: 'backup of a modified copy (30 inserts, 5 appends, 5 deletes)',
    needs: ['fresh-2g'],
  },
  { key: 'small-first', title: `first backup, ${SMALL} files of 1 B-16 KiB` },
  { key: 'small-nochange', title: `no-change backup, ${SMALL} files`, needs: ['small-first'] },
  { key: 'restore-2g', title: `restore ${MB} MiB`, needs: ['fresh-2g'] },
  { key: 'restore-small', title: `restore ${SMALL} small files`, needs: ['small-first'] },
  {
    // Restoring a version over the one already there (build versions): cairn keeps what
    // matches; the peers have no such mode (they write every file again), so cairn only.
    key: 'restore-small-over',
    title: `restore ${SMALL} small files over the same files (cairn)`,
    needs: ['small-first', 'restore-small'],
  },
  { key: 'releases', title: `${DEFAULT_VERSIONS.length} typescript releases, one snapshot each` },
  {
    key: 'rss-10m',
    title: 'peak RSS against 10 thousand vs 10 million blobs (cairn)',
    cairnOnly: true,
  },
  { key: 'chunker', title: 'chunker cut points (cairn)', cairnOnly: true },
  { key: 'builds', title: 'bytes fetched moving between releases (cairn)', cairnOnly: true },
  { key: 'codecs', title: 'encryption and compression cost (cairn)', cairnOnly: true, optIn: true },
  {
    key: 's3',
    title: 'S3 backup and sync, Ceph RGW on loopback (cairn)',
    cairnOnly: true,
    optIn: true,
  },
];

function selected() {
  const only = process.env.BENCH_ONLY?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const all = only?.includes('all');
  const keys = new Set(
    SCENARIOS.filter((s) => (only && !all ? only.includes(s.key) : all || !s.optIn)).map(
      (s) => s.key,
    ),
  );
  const unknown = (only ?? []).filter((k) => k !== 'all' && !SCENARIOS.some((s) => s.key === k));
  if (unknown.length)
    throw new Error(
      `unknown BENCH_ONLY scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.key).join(', ')}`,
    );
  for (const s of SCENARIOS) if (keys.has(s.key)) for (const n of s.needs ?? []) keys.add(n);
  return SCENARIOS.filter((s) => keys.has(s.key));
}

const scenarios = selected();
const has = (key) => scenarios.some((s) => s.key === key);
const fileName = (tool) => tool.name.replace(/\W+/g, '-');

// Earlier runs' folders are removed first, while nothing is being timed yet; the corpora
// and the chunker run come before the first timed file-system step.
await mkdir(root, { recursive: true });
let deletedEarlierRuns = false;
for (const name of await readdir(root)) {
  if (!name.startsWith('run-')) continue;
  await rm(join(root, name), { recursive: true, force: true });
  deletedEarlierRuns = true;
}
if (deletedEarlierRuns) await settleAfterDeletes("earlier runs' folders");
const RUN = join(root, `run-${Date.now()}`);
const scratch = join(RUN, 'scratch');
await mkdir(scratch, { recursive: true });
const allTools = makeTools(scratch);
const tools = allTools.filter((t) => !t.peer || PEERS);

console.log(
  `cairn benchmark: node ${process.version}, ${cpus().length} cores, ${RUNS} run(s), cairn build ${DIST}`,
);
console.log(`tools: ${tools.map((t) => `${t.name} (${t.version})`).join(', ')}`);
console.log(`scenarios: ${scenarios.map((s) => s.key).join(', ')}\n`);

// Corpora (deterministic, cached in .bench/).
const large = join(root, `large-${MB}`);
const modified = join(root, `large-${MB}-modified`);
const small = join(root, `small-${SMALL}`);
if (has('fresh-2g')) {
  await ensureCorpus(large, (d) => writeLargeCorpus(d, MB * MiB, 200));
  await ensureCorpus(modified, async (d) => {
    const e = await writeModifiedCopy(large, d);
    console.log(`modified copy: ${JSON.stringify(e)}`);
  });
}
if (has('small-first')) await ensureCorpus(small, (d) => writeSmallFiles(d, SMALL));
const releaseDirs = has('releases') || has('builds') ? DEFAULT_VERSIONS.map((v) => release(v)) : [];
const sizeOf = {
  large: has('fresh-2g') ? (await treeSize(large)).bytes : 0,
  modified: has('fresh-2g') ? (await treeSize(modified)).bytes : 0,
  small: has('small-first') ? await treeSize(small) : { bytes: 0, files: 0 },
};

/** Every measurement: { run, scenario, tool, ms, bytes, objects, rssMiB, mbps, notes }. */
const results = [];
function record(r) {
  results.push(r);
  const parts = [
    r.ms !== undefined ? `${(r.ms / 1000).toFixed(2)} s` : '',
    r.mbps !== undefined ? `${r.mbps.toFixed(0)} MiB/s` : '',
    r.bytes !== undefined ? `${(r.bytes / MiB).toFixed(1)} MiB stored` : '',
    r.objects !== undefined ? `${r.objects} objects` : '',
    r.rssMiB ? `RSS ${r.rssMiB.toFixed(0)} MiB` : '',
    r.notes ?? '',
  ].filter(Boolean);
  console.log(
    `  ${(r.title ?? r.scenario).slice(0, 60).padEnd(60)} ${r.tool.padEnd(12)} ${parts.join(', ')}`,
  );
}
async function attempt(r, fn) {
  try {
    await fn();
  } catch (err) {
    record({ ...r, notes: `failed: ${String(err.message).split('\n').slice(0, 2).join(' ')}` });
  }
}

// One pass over the selected scenarios. Per-tool state (repositories) lives in `st`.
async function runOnce(run) {
  const dir = join(RUN, `r${run}`);
  await mkdir(dir, { recursive: true });
  const order = tools.map((_, i) => tools[(i + run) % tools.length]);
  const st = new Map(order.map((t) => [t.name, {}]));
  const base = (scenario, tool) => ({
    run,
    scenario: scenario.key,
    title: scenario.title,
    tool: tool.name,
  });

  /** Restores the small files into the tool's folder (`over`: which holds them already). */
  const restoreSmall = async (s, t, state, over) => {
    const target = join(dir, `restore-small-${fileName(t)}`);
    warmUp(state.small);
    if (over) warmUp(target);
    const r = await t.restore(state.small, 'small', target);
    const got = await treeSize(target);
    record({
      ...base(s, t),
      ms: r.ms,
      rssMiB: r.rssMiB,
      notes: note(
        got.files === sizeOf.small.files
          ? 'file count matches'
          : `restored ${got.files} of ${sizeOf.small.files} files`,
        opNote(r),
      ),
    });
  };
  const each = {
    async 'fresh-2g'(s, t, state) {
      state.large = join(dir, `large-${fileName(t)}`);
      await t.init(state.large);
      warmUp(large);
      const b = await t.backup(state.large, large, 'fresh');
      const size = await treeSize(state.large);
      record({
        ...base(s, t),
        ms: b.ms,
        mbps: sizeOf.large / MiB / (b.ms / 1000),
        bytes: size.bytes,
        objects: size.files,
        rssMiB: b.rssMiB,
        notes: opNote(b),
      });
    },
    async 'modified-2g'(s, t, state) {
      const before = await treeSize(state.large);
      warmUp(modified);
      const b = await t.backup(state.large, modified, 'modified');
      const after = await treeSize(state.large);
      record({
        ...base(s, t),
        ms: b.ms,
        mbps: sizeOf.modified / MiB / (b.ms / 1000),
        bytes: after.bytes - before.bytes,
        objects: after.files - before.files,
        rssMiB: b.rssMiB,
        notes: note('bytes/objects added', opNote(b)),
      });
    },
    async 'small-first'(s, t, state) {
      state.small = join(dir, `small-${fileName(t)}`);
      await t.init(state.small);
      warmUp(small);
      const b = await t.backup(state.small, small, 'small');
      const size = await treeSize(state.small);
      record({
        ...base(s, t),
        ms: b.ms,
        bytes: size.bytes,
        objects: size.files,
        rssMiB: b.rssMiB,
        notes: opNote(b),
      });
    },
    async 'small-nochange'(s, t, state) {
      const before = await treeSize(state.small);
      warmUp(small);
      const b = await t.backup(state.small, small, 'small-again');
      const after = await treeSize(state.small);
      record({
        ...base(s, t),
        ms: b.ms,
        bytes: after.bytes - before.bytes,
        objects: after.files - before.files,
        rssMiB: b.rssMiB,
        notes: note('bytes/objects added', opNote(b)),
      });
    },
    async 'restore-2g'(s, t, state) {
      const target = join(dir, `restore-large-${fileName(t)}`);
      warmUp(state.large);
      const r = await t.restore(state.large, 'fresh', target);
      const got = await treeSize(target);
      record({
        ...base(s, t),
        ms: r.ms,
        mbps: sizeOf.large / MiB / (r.ms / 1000),
        rssMiB: r.rssMiB,
        notes: note(
          got.bytes === sizeOf.large
            ? 'bytes match'
            : `restored ${got.bytes} of ${sizeOf.large} bytes`,
          opNote(r),
        ),
      });
    },
    async 'restore-small'(s, t, state) {
      await restoreSmall(s, t, state, false);
    },
    async 'restore-small-over'(s, t, state) {
      if (t.name.startsWith('cairn')) await restoreSmall(s, t, state, true);
    },
    async releases(s, t) {
      const repo = join(dir, `releases-${fileName(t)}`);
      await t.init(repo);
      let ms = 0;
      let rss = 0;
      let input = 0;
      for (const [i, src] of releaseDirs.entries()) {
        warmUp(src);
        const b = await t.backup(repo, src, `v${DEFAULT_VERSIONS[i]}`);
        ms += b.ms;
        rss = Math.max(rss, b.rssMiB);
        input += (await treeSize(src)).bytes;
      }
      const size = await treeSize(repo);
      record({
        ...base(s, t),
        ms,
        bytes: size.bytes,
        objects: size.files,
        rssMiB: rss,
        notes: `of ${(input / MiB).toFixed(1)} MiB input; time is the sum of ${releaseDirs.length} backups`,
      });
    },
  };

  for (const s of scenarios) {
    console.log(`${s.key}: ${s.title}`);
    if (each[s.key]) {
      for (const t of order) {
        if (t.only && !t.only.includes(s.key)) continue;
        const state = st.get(t.name);
        if ((s.needs ?? []).some((n) => n.includes('2g')) && !state.large) continue;
        if ((s.needs ?? []).some((n) => n.startsWith('small')) && !state.small) continue;
        await attempt(base(s, t), () => each[s.key](s, t, state));
      }
      continue;
    }
    await attempt({ run, scenario: s.key, title: s.title, tool: 'cairn' }, () =>
      cairnOnly(s, dir, run),
    );
  }
  return dir;
}

function note(...parts) {
  return parts.filter(Boolean).join('; ');
}

function opNote(r) {
  return r.opMs !== undefined ? `in-process ${(r.opMs / 1000).toFixed(2)} s` : '';
}

async function cairnOnly(s, dir, run) {
  if (s.key === 'rss-10m') {
    for (const r of await benchRssScale({ root, dir, scratch, run })) record({ run, ...r });
    return;
  }
  let rows = [];
  if (s.key === 'chunker') {
    const { benchChunker } = await import('./chunker-bench.mjs');
    const c = await benchChunker({ sizeMiB: 256 });
    const copied = await benchChunker({ sizeMiB: 256, engine: 'wasm-copied' });
    const js = await benchChunker({ sizeMiB: 256, engine: 'js' });
    // chunker-bench reports MB/s (10^6 bytes); the table's column is MiB/s.
    rows = [
      [
        'chunker cut points, 1 core, random data',
        { mbps: (c.mbPerSec * 1e6) / MiB },
        `${c.chunks} chunks; ${c.mbPerSec.toFixed(0)} MB/s (WebAssembly on the read buffer, as backups cut); ` +
          `${copied.mbPerSec.toFixed(0)} MB/s on another buffer (copied in); ` +
          `${js.mbPerSec.toFixed(0)} MB/s with CAIRN_CHUNKER=js`,
      ],
    ];
  } else if (s.key === 'builds') {
    const { benchBuilds } = await import('./builds-bench.mjs');
    rows = await benchBuilds({ root: dir });
  } else if (s.key === 'codecs') {
    const { benchCodecs } = await import('./crypto-bench.mjs');
    rows = await benchCodecs({ root: dir });
  } else if (s.key === 's3') {
    const { benchS3 } = await import('./s3-bench.mjs');
    rows = await benchS3({ root: dir });
  }
  for (const [what, value, notes] of rows) {
    if (typeof value === 'object')
      record({ run, scenario: s.key, title: what, tool: 'cairn', mbps: value.mbps, notes });
    else
      record({
        run,
        scenario: s.key,
        title: what,
        tool: 'cairn',
        notes: [value, notes].filter(Boolean).join('; '),
      });
  }
}

for (let run = 0; run < RUNS; run++) {
  console.log(`\n== run ${run + 1} of ${RUNS}`);
  const dir = await runOnce(run);
  // Between runs, free the disk the 2 GiB repositories and restores take (cairn's and
  // casync's repositories are some 30,000 files each), then let the deletes settle.
  if (run + 1 < RUNS) {
    for (const name of await readdir(dir)) {
      if (name.startsWith('restore-large-') || name.startsWith('large-'))
        await rm(join(dir, name), { recursive: true, force: true });
    }
    await settleAfterDeletes("this run's 2 GiB repositories and restores");
  }
}

// Medians per (scenario, title, tool), then ratios to the best peer per scenario.
const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
/**
 * The run whose time (or, for rows without one, rate) is the median: its notes, e.g.
 * the in-process time, go with it. With an even count, the lower of the middle two.
 */
const medianRun = (rs) => {
  const by = (f) => rs.filter((r) => typeof f(r) === 'number').sort((a, b) => f(a) - f(b));
  const ranked = by((r) => r.ms).length > 0 ? by((r) => r.ms) : by((r) => r.mbps);
  return ranked.length > 0 ? ranked[(ranked.length - 1) >> 1] : rs.at(-1);
};
const groups = new Map();
for (const r of results) {
  const k = `${r.scenario}\u0000${r.title}\u0000${r.tool}`;
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
const table = [...groups.values()].map((rs) => ({
  scenario: rs[0].scenario,
  title: rs[0].title,
  tool: rs[0].tool,
  runs: rs.length,
  ms: median(rs.map((r) => r.ms)),
  mbps: median(rs.map((r) => r.mbps)),
  bytes: median(rs.map((r) => r.bytes)),
  objects: median(rs.map((r) => r.objects)),
  rssMiB: median(rs.map((r) => r.rssMiB)),
  notes: medianRun(rs).notes,
}));
const peerNames = new Set(allTools.filter((t) => t.peer).map((t) => t.name));
for (const row of table) {
  const peers = table.filter(
    (p) => p.scenario === row.scenario && p.title === row.title && peerNames.has(p.tool),
  );
  const best = (f) => {
    const v = peers.map(f).filter((x) => x !== undefined && x > 0);
    return v.length ? Math.min(...v) : undefined;
  };
  const bestMs = best((p) => p.ms);
  // Stored bytes compare only where a tool stores the same input from scratch or adds
  // a known change; "bytes added by a no-change backup" is a few metadata KiB.
  const bestBytes = ['fresh-2g', 'modified-2g', 'small-first', 'releases'].includes(row.scenario)
    ? best((p) => p.bytes)
    : undefined;
  if (bestMs && row.ms !== undefined) row.timeRatio = row.ms / bestMs;
  if (bestBytes && row.bytes !== undefined) row.bytesRatio = row.bytes / bestBytes;
}
// Peak RSS of each tool over every scenario it ran (scenario 8 of the issue).
for (const t of tools) {
  const rss = table
    .filter((r) => r.tool === t.name && r.scenario !== 'rss-10m' && r.rssMiB)
    .map((r) => r.rssMiB);
  if (rss.length)
    table.push({
      scenario: 'peak-rss',
      title: 'peak RSS, highest of the scenarios above',
      tool: t.name,
      runs: RUNS,
      rssMiB: Math.max(...rss),
    });
}
const bestPeakPeer = Math.min(
  ...table.filter((r) => r.scenario === 'peak-rss' && peerNames.has(r.tool)).map((r) => r.rssMiB),
);
for (const r of table)
  if (r.scenario === 'peak-rss' && Number.isFinite(bestPeakPeer))
    r.rssRatio = r.rssMiB / bestPeakPeer;

const f = {
  s: (ms) => (ms === undefined ? '' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1)),
  n: (x, d = 0) => (x === undefined ? '' : x.toFixed(d)),
  mib: (b) => (b === undefined ? '' : (b / MiB).toFixed(b < 10 * MiB ? 2 : 1)),
  ratio: (x) => (x === undefined ? '' : `${x.toFixed(2)}x`),
};
const header = [
  'scenario',
  'tool',
  'time (s)',
  'MiB/s',
  'stored (MiB)',
  'objects',
  'peak RSS (MiB)',
  'time vs best peer',
  'stored vs best peer',
  'notes',
];
const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
for (const r of table) {
  const ratioNote = r.rssRatio !== undefined ? `RSS ${f.ratio(r.rssRatio)} of best peer` : '';
  lines.push(
    `| ${[r.title, r.tool, f.s(r.ms), f.n(r.mbps), f.mib(r.bytes), f.n(r.objects), f.n(r.rssMiB), f.ratio(r.timeRatio), f.ratio(r.bytesRatio), [ratioNote, r.notes].filter(Boolean).join('; ')].join(' | ')} |`,
  );
}
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z`;
const versions = tools.map((t) => `${t.name}: ${t.version}`).join(', ');
const md = [
  `Measured with \`${process.env.BENCH_RUNS ? `BENCH_RUNS=${RUNS} ` : ''}npm run bench\` (median of ${RUNS} run${RUNS > 1 ? 's' : ''}), ${machine}.`,
  `Tools: ${versions}. Times are wall clock of each tool's process; "stored" is the repository folder's apparent size (bytes added, for the modified-copy and no-change rows); objects are its files.`,
  '',
  ...lines,
  '',
].join('\n');
console.log(`\n${md}`);
await writeFile(join(root, 'results.md'), md);
await writeFile(
  join(root, 'results.json'),
  `${JSON.stringify({ machine, runs: RUNS, tools: tools.map((t) => ({ name: t.name, version: t.version, peer: t.peer })), table, results }, null, 2)}\n`,
);
console.log(`wrote ${join(root, 'results.md')} and results.json`);

// Remove this run's folders now that nothing more is timed (BENCH_KEEP=1 keeps them to
// look at; the next run removes them before it starts timing).
if (process.env.BENCH_KEEP !== '1') await rm(RUN, { recursive: true, force: true });
