/**
 * A quick pre-scan of the sources (names and sizes only) that runs alongside a backup,
 * so progress can show percent and ETA. Errors are ignored here: the backup itself
 * reports them.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../core/abort.js';
import { keptEntries, type SourceFilters } from './source-filters.js';

/**
 * Counts regular files and their bytes under `paths`, left out what `filters` leave out
 * (`followed`: see backup.ts).
 */
export async function scanTotals(
  paths: string[],
  filters: SourceFilters,
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
      // As in the walk: a file named as a PATH is backed up whatever its size.
      const below = rootDev !== undefined;
      if (below && filters.maxFileSize !== undefined && st.size > filters.maxFileSize) return;
      totals.files++;
      totals.bytes += st.size;
      return;
    }
    if (!st.isDirectory()) return;
    if (filters.oneFileSystem && rootDev !== undefined && st.dev !== rootDev) return;
    const names = await readdir(path).catch(() => [] as string[]);
    const tagged = filters.tags.tagsIn(names, (n) => join(path, n));
    const slots = keptEntries(filters, path, names, tagged);
    for (const i of slots ?? names.keys()) await visit(join(path, names[i]!), rootDev ?? st.dev);
  };
  for (const p of paths) await visit(p, undefined);
  return totals;
}
