/**
 * The compiled build's modules, for tests of what only runs compiled (worker threads
 * start from the built scripts). `npm test` builds first; `CAIRN_DIST` may name another
 * build.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The exports of the build's `index.js` and of each module in `modules` (paths inside
 * the build, such as `ops/restore-pool.js`), merged; `T` says what they are.
 */
export async function compiledModules<T>(...modules: string[]): Promise<T> {
  const dist = resolve(process.env.CAIRN_DIST ?? 'dist');
  let merged: Record<string, unknown> = {};
  // Computed specifiers: the type checker must not need the build.
  for (const m of ['index.js', ...modules]) {
    merged = { ...merged, ...(await import(pathToFileURL(join(dist, m)).href)) };
  }
  return merged as T;
}

/**
 * The built `cairn` executable (`bin/cairn.js` of the build, `dist/` or `CAIRN_DIST`).
 * Throws, saying how to make it, when it is missing or older than the tsc output it
 * bundles (a `tsc` run without `scripts/bundle-cli.mjs` would otherwise go untested).
 */
export function cairnBinary(): string {
  const dist = resolve(process.env.CAIRN_DIST ?? 'dist');
  const bin = join(dist, 'bin/cairn.js');
  const compiled = join(dist, 'cli/bin.js');
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: run \`npm run build\` (npm test does)`);
  }
  if (existsSync(compiled) && statSync(compiled).mtimeMs > statSync(bin).mtimeMs) {
    throw new Error(
      `${bin} is older than ${compiled}: run \`npm run build\`, or \`node scripts/bundle-cli.mjs ${dist}\``,
    );
  }
  return bin;
}
