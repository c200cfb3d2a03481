// Bundles the compiled CLI (dist/cli/bin.js) and its worker-thread scripts into
// dist/bin/: `cairn.js`, `chunk-worker.js`, `restore-worker.js`, `scan-worker.js` and
// the chunks they share. `npm run build` runs it after tsc; package.json's `bin` is
// dist/bin/cairn.js.
//
// Why: every command starts by loading its modules, some 150 of cairn's and a few
// hundred of its dependencies' (commander, msgpackr, level, @noble/hashes), each
// resolved, read and compiled on its own; bundled, a backup of an unchanged 23 MB
// tree took 0.22-0.27 s against 0.26-0.32 s and `snapshots` 0.14-0.17 against
// 0.17-0.23 s (docs/performance.md), and a worker thread loads its modules in 27
// instead of 45 ms. The library (dist/index.js) stays unbundled for importers.
//
// Kept outside the bundle, loaded from node_modules at run time: native addons, which
// find their binaries next to their packages (classic-level, zstd-napi, msgpackr's
// optional msgpackr-extract: bundled, it would not find its binary and msgpackr would
// quietly decode without it), the S3 SDK and the
// TUI's ink and react (loaded only by the commands that need them), and the zstd
// WebAssembly package (it reads its .wasm file next to itself).
//
// Worker scripts are found beside the module that starts them (compiledWorker in
// src/core/worker-thread.ts), so they are entries of their own in the same folder. A
// worker must never load cairn.js, which runs the command line when it is evaluated:
// the build fails if one of their chunks imports it.
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const OUT = root('dist/bin');
/** Written here first, then moved into OUT file by file (below). */
const STAGE = `${OUT}.tmp-${process.pid}`;
/** Files of earlier builds are removed once this old. */
const STALE_MS = 60 * 60 * 1000;
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

rmSync(STAGE, { recursive: true, force: true });
const { output } = await build({
  input: {
    cairn: root('dist/cli/bin.js'),
    'chunk-worker': root('dist/repo/chunk-worker.js'),
    'restore-worker': root('dist/ops/restore-worker.js'),
    'scan-worker': root('dist/ops/scan-worker.js'),
  },
  platform: 'node',
  external: (id) => EXTERNAL.some((pattern) => pattern.test(id)),
  logLevel: 'warn',
  output: { dir: STAGE, format: 'esm', chunkFileNames: '[name]-[hash].js' },
});

const chunks = new Map(output.filter((o) => o.type === 'chunk').map((c) => [c.fileName, c]));
const WORKERS = ['chunk-worker.js', 'restore-worker.js', 'scan-worker.js'];
for (const worker of WORKERS) {
  const loaded = new Set();
  const visit = (name) => {
    if (loaded.has(name) || !chunks.has(name)) return;
    loaded.add(name);
    for (const next of chunks.get(name).imports) visit(next);
  };
  visit(worker);
  if (!chunks.has(worker) || loaded.has('cairn.js')) {
    console.error(`bundle-cli: ${worker} is missing or would load cairn.js`);
    rmSync(STAGE, { recursive: true, force: true });
    process.exit(1);
  }
}

// A cairn started from the old build (a test run, say) must not lose its files: the new
// files are renamed into place one by one, the shared chunks (new names: their hash is
// of their content) before the entries that import them, and an earlier build's files
// are removed only an hour later, as a process of it may still import a command's chunk.
mkdirSync(OUT, { recursive: true });
const written = new Set(readdirSync(STAGE));
const entries = ['cairn.js', ...WORKERS];
for (const name of [...written].filter((n) => !entries.includes(n))) {
  renameSync(`${STAGE}/${name}`, `${OUT}/${name}`);
}
chmodSync(`${STAGE}/cairn.js`, 0o755);
for (const name of entries) renameSync(`${STAGE}/${name}`, `${OUT}/${name}`);
rmSync(STAGE, { recursive: true, force: true });
for (const name of readdirSync(OUT)) {
  if (!written.has(name) && Date.now() - statSync(`${OUT}/${name}`).mtimeMs > STALE_MS) {
    rmSync(`${OUT}/${name}`, { force: true });
  }
}
