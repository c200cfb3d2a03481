/** Where local caches live: $CAIRN_CACHE_DIR, else $XDG_CACHE_HOME/cairn, else ~/.cache/cairn. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache root directory. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CAIRN_CACHE_DIR) return env.CAIRN_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'cairn');
  return join(homedir(), '.cache', 'cairn');
}

/** The cache directory of one repository (by repository id). */
export function repoCacheDir(repoId: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), repoId);
}
