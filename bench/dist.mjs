// Where the bench finds the cairn build: $CAIRN_DIST (default ../dist). A private build
// (`npx tsc -p tsconfig.build.json --outDir .bench/dist`, inside the project so that it
// finds node_modules) keeps a long bench run independent of dist/ being rebuilt.
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The directory of the cairn build the bench uses. */
export const DIST = (() => {
  const dir = process.env.CAIRN_DIST ?? join(import.meta.dirname, '..', 'dist');
  return isAbsolute(dir) ? dir : resolve(dir);
})();

/** A module of the build, e.g. `index.js` or `chunker/index.js`. */
export function distModule(path = 'index.js') {
  return import(pathToFileURL(join(DIST, path)).href);
}
