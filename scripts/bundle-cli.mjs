// Bundles the compiled CLI (DIST/cli/bin.js) and its worker-thread scripts with rolldown
// into DIST/bin/: each build in a folder of its own, DIST/bin/b-<hash>/ (`cairn.js`,
// `chunk-worker.js`, `restore-worker.js`, `scan-worker.js` and the chunks they share),
// and DIST/bin/cairn.js, the executable, a two-line module that imports the current
// build. `npm run build` runs it after tsc; package.json's `bin` is dist/bin/cairn.js.
//
//   node scripts/bundle-cli.mjs [DIST]          bundle DIST (default dist/), e.g. a private
//                                               build made with tsc --outDir for CAIRN_DIST
//   node scripts/bundle-cli.mjs --clean [DIST]  also remove every earlier build (npm pack)
//
// Why: every command starts by loading its modules, some 150 of cairn's and a few
// hundred of its dependencies' (commander, msgpackr, level, @noble/hashes), each
// resolved, read and compiled on its own; bundled, commands start 15-40 ms sooner and a
// worker thread loads its modules in 27 instead of 45 ms (docs/performance.md). The
// library (dist/index.js) stays unbundled for importers.
//
// Kept outside the bundle, loaded from node_modules at run time: native addons, which
// find their binaries next to their packages (classic-level, zstd-napi, msgpackr's
// optional msgpackr-extract: bundled, it would not find its binary and msgpackr would
// quietly decode without it), the S3 SDK and the TUI's ink and react (loaded only by the
// commands that need them), and the zstd WebAssembly package (it reads its .wasm file
// next to itself).
//
// Worker scripts are found beside the module that starts them (compiledWorker in
// src/core/worker-thread.ts), so they are entries of their own in the build's folder. A
// worker must never load the build's cairn.js, which runs the command line when it is
// evaluated: the build fails if one of their chunks imports it.
//
// A cairn started from an earlier build keeps it whole: a build's folder never changes,
// the executable is replaced by a rename once the new folder is complete, and a folder
// is removed an hour after a newer build replaced it (a process of it may still import a
// command's chunk), or by --clean.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const args = process.argv.slice(2);
const clean = args.includes('--clean');
const DIST = resolve(
  args.find((a) => a !== '--clean') ?? fileURLToPath(new URL('../dist', import.meta.url)),
);
const OUT = join(DIST, 'bin');
const STAGE = join(OUT, `.tmp-${process.pid}`);
const LAUNCHER = join(OUT, 'cairn.js');
/** Builds another one replaced are removed once this long replaced. */
const REPLACED_FOR_MS = 60 * 60 * 1000;
const WORKERS = ['chunk-worker.js', 'restore-worker.js', 'scan-worker.js'];
const EXTERNAL = [
  /^node:/,
  /^classic-level/,
  /^msgpackr-extract/,
  /^zstd-napi/,
  /^@aws-sdk\//,
  /^ink/,
  /^react/,
  /^@bokuweb\//,
];

function fail(message) {
  console.error(`bundle-cli: ${message}`);
  rmSync(STAGE, { recursive: true, force: true });
  process.exit(1);
}

if (!existsSync(join(DIST, 'cli', 'bin.js'))) fail(`${DIST}/cli/bin.js is missing: run tsc first`);
const { output } = await build({
  input: {
    cairn: join(DIST, 'cli/bin.js'),
    'chunk-worker': join(DIST, 'repo/chunk-worker.js'),
    'restore-worker': join(DIST, 'ops/restore-worker.js'),
    'scan-worker': join(DIST, 'ops/scan-worker.js'),
  },
  platform: 'node',
  external: (id) => EXTERNAL.some((pattern) => pattern.test(id)),
  logLevel: 'warn',
  output: { dir: STAGE, format: 'esm', chunkFileNames: '[name]-[hash].js' },
});

const chunks = new Map(output.filter((o) => o.type === 'chunk').map((c) => [c.fileName, c]));
for (const worker of WORKERS) {
  const loaded = new Set();
  const visit = (name) => {
    if (loaded.has(name) || !chunks.has(name)) return;
    loaded.add(name);
    for (const next of chunks.get(name).imports) visit(next);
  };
  visit(worker);
  if (!chunks.has(worker) || loaded.has('cairn.js')) fail(`${worker} is missing or loads cairn.js`);
}

// The build's name is the hash of its files, so an unchanged build is the same folder.
const hash = createHash('sha256');
for (const name of readdirSync(STAGE).sort()) {
  hash
    .update(`${name}\0`)
    .update(readFileSync(join(STAGE, name)))
    .update('\0');
}
const current = `b-${hash.digest('hex').slice(0, 12)}`;
if (existsSync(join(OUT, current))) rmSync(STAGE, { recursive: true, force: true });
else {
  try {
    renameSync(STAGE, join(OUT, current));
  } catch (err) {
    // Another build of the same files got there first: it is the same folder.
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    rmSync(STAGE, { recursive: true, force: true });
  }
}

// The build the executable named until now is replaced as of now.
const previous = existsSync(LAUNCHER)
  ? /\.\/(b-[0-9a-f]+)\//.exec(readFileSync(LAUNCHER, 'utf8'))?.[1]
  : undefined;
if (previous && previous !== current && existsSync(join(OUT, previous))) {
  const now = new Date();
  utimesSync(join(OUT, previous), now, now);
}
// Written every time, so that its time says when dist/ was last bundled (tests compare
// it with dist/cli/bin.js to catch a tsc run without this).
const launcherTemp = join(OUT, `.cairn.js.tmp-${process.pid}`);
writeFileSync(
  launcherTemp,
  `#!/usr/bin/env node\n// The cairn executable: the command line of build ${current} (scripts/bundle-cli.mjs).\nawait import('./${current}/cairn.js');\n`,
);
chmodSync(launcherTemp, 0o755);
renameSync(launcherTemp, LAUNCHER);

for (const name of readdirSync(OUT)) {
  if (name === current || name === 'cairn.js') continue;
  const path = join(OUT, name);
  const age = Date.now() - statSync(path, { throwIfNoEntry: false })?.mtimeMs;
  // Another build's temporary files are its own until they are an hour old.
  const running = name.startsWith('.') && !(age > REPLACED_FOR_MS);
  if (!running && (clean || age > REPLACED_FOR_MS)) rmSync(path, { recursive: true, force: true });
}
