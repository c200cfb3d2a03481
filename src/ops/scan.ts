/**
 * A quick pre-scan of the sources (names and sizes only) that runs alongside a backup,
 * so progress can show percent and ETA. Errors are ignored here: the backup itself
 * reports them.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../core/abort.js';
import type { ExcludeMatcher } from './exclude.js';

/** Counts regular files and their bytes under `paths` (`followed`: see backup.ts). */
export async function scanTotals(
  paths: string[],
  excludes: ExcludeMatcher,
  oneFileSystem: boolean,
  followed: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<{ files: number; bytes: number }> {
  const totals = { files: 0, bytes: 0 };
  const visit = async (path: string, rootDev: number | undefined): Promise<void> => {
    throwIfAborted(signal);
    // A root given as `link/` is followed, as the backup follows it.
    const st = await (rootDev === undefined && followed.has(path) ? stat : lstat)(path).catch(
      () => undefined,
    );
    if (!st) return;
    if (st.isFile()) {
      totals.files++;
      totals.bytes += st.size;
      return;
    }
    if (!st.isDirectory()) return;
    if (oneFileSystem && rootDev !== undefined && st.dev !== rootDev) return;
    const names = await readdir(path).catch(() => [] as string[]);
    for (const n of names) {
      const child = join(path, n);
      if (!excludes.excludes(child, n)) await visit(child, rootDev ?? st.dev);
    }
  };
  for (const p of paths) await visit(p, undefined);
  return totals;
}
