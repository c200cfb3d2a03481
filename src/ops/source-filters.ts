/**
 * What a backup leaves out of a directory it lists: entries matching an exclude glob
 * (exclude.ts), and all but the tag files of a directory tagged for exclusion
 * (exclude-tags.ts). Shared by the walk and the pre-scan that counts totals, so the
 * two agree.
 */
import { join } from 'node:path';
import type { ExcludeMatcher } from './exclude.js';
import type { TagExcluder } from './exclude-tags.js';

/** The filters of one backup. */
export interface SourceFilters {
  excludes: ExcludeMatcher;
  tags: TagExcluder;
  /** Do not descend into directories on other file systems. */
  oneFileSystem: boolean;
}

/**
 * The indexes of the entries of directory `path` (listed as `names`) that a backup
 * keeps, or undefined when it keeps them all. `tagged` is what `filters.tags` found in
 * the directory (TagExcluder.tagsIn): then only those tag files are candidates. A tag
 * file counts wherever it is listed, even when a glob excludes the tag file itself (it
 * is then not kept either).
 */
export function keptEntries(
  filters: SourceFilters,
  path: string,
  names: readonly string[],
  tagged: readonly string[] | undefined,
): number[] | undefined {
  if (filters.excludes.empty && !tagged) return undefined;
  const slots: number[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (tagged && !tagged.includes(name)) continue;
    if (!filters.excludes.excludes(join(path, name), name)) slots.push(i);
  }
  return slots;
}
