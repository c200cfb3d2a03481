/**
 * What a backup leaves out of a directory it lists: entries matching an exclude glob
 * (exclude.ts), all but the tag files of a directory tagged for exclusion
 * (exclude-tags.ts), regular files larger than `maxFileSize`, and with a list of paths
 * (`--files-from`) whatever neither is listed nor leads to what is. Shared by the walk
 * and the pre-scan that counts totals, so the two agree.
 */
import type { ExcludeMatcher } from './exclude.js';
import type { TagExcluder } from './exclude-tags.js';
import type { PathSelection } from './path-selection.js';

/** The filters of one backup. */
export interface SourceFilters {
  excludes: ExcludeMatcher;
  tags: TagExcluder;
  /** Do not descend into directories on other file systems. */
  oneFileSystem: boolean;
  /** Leave out regular files of more bytes than this (`--exclude-larger-than`). */
  maxFileSize?: number | undefined;
  /** Only these paths, and the directories leading to them (`--files-from`). */
  only?: PathSelection | undefined;
}

/**
 * The indexes of the entries of directory `path` (listed as `names`) that a backup
 * keeps, or undefined when it keeps them all. `tagged` is what `filters.tags` found in
 * the directory (TagExcluder.tagsIn): then only those tag files are candidates. A tag
 * file counts wherever it is listed, even when a glob excludes the tag file itself (it
 * is then not kept either). `fileSize(i)` is entry i's size if it is a regular file
 * (asked only with `maxFileSize`, and not of tag files); `onTooLarge` hears of each
 * file left out for it.
 */
export function keptEntries(
  filters: SourceFilters,
  path: string,
  names: readonly string[],
  tagged: readonly string[] | undefined,
  fileSize?: (i: number) => bigint | undefined,
  onTooLarge?: (name: string, size: bigint) => void,
): number[] | undefined {
  const max = filters.maxFileSize;
  const bySize = max !== undefined && fileSize !== undefined;
  const only = filters.only;
  // Below a listed directory everything is kept (the other filters aside).
  const narrowed = only !== undefined && !only.covers(path);
  if (filters.excludes.empty && !tagged && !bySize && !only) return undefined;
  const slots: number[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    // `path` is normalized and a listed name holds no `/`: what `join` gives, cheaper.
    const full = path.endsWith('/') ? path + name : `${path}/${name}`;
    if (only) {
      // Found, whatever the other filters decide (a listed path they leave out is not
      // a missing one).
      only.noteFound(full);
      if (narrowed && !only.keeps(full)) continue;
    }
    if ((tagged && !tagged.includes(name)) || filters.excludes.excludes(full, name)) {
      only?.noteLeftOut(full);
      continue;
    }
    // A tag file stays, whatever its size: the directory it tags is kept marked.
    if (bySize && !tagged) {
      const size = fileSize(i);
      if (size !== undefined && size > BigInt(max)) {
        onTooLarge?.(name, size);
        continue;
      }
    }
    slots.push(i);
  }
  return slots;
}
