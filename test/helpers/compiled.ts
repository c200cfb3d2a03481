/**
 * The compiled build's modules, for tests of what only runs compiled (worker threads
 * start from the built scripts). `npm test` builds first; `CAIRN_DIST` may name another
 * build.
 */
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
