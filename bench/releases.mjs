// Consecutive releases of a large npm package, fetched once with `npm pack` into
// .bench/packages (gitignored) and extracted there. Used by the chunk-size study and
// the build-versions benchmark.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CACHE = join(ROOT, '.bench', 'packages');
export const PACKAGE = 'typescript';
export const DEFAULT_VERSIONS = [
  '5.4.2',
  '5.4.3',
  '5.4.4',
  '5.4.5',
  '5.5.2',
  '5.5.3',
  '5.5.4',
  '5.6.2',
];

/** Fetches (once) and extracts (once) one release; returns its package directory. */
export function release(version, pkg = PACKAGE) {
  mkdirSync(CACHE, { recursive: true });
  const tgz = join(CACHE, `${pkg}-${version}.tgz`);
  if (!existsSync(tgz)) {
    // npm's notices go to stderr; they are part of the thrown error if the fetch fails.
    execFileSync('npm', ['pack', `${pkg}@${version}`, '--pack-destination', CACHE], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
  const dir = join(CACHE, `${pkg}-${version}`);
  if (!existsSync(join(dir, 'package'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', tgz, '-C', dir]);
  }
  return join(dir, 'package');
}
