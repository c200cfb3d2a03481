/**
 * The rows a directory view lists, and where a directory's entries come from.
 *
 * Browsing one snapshot lists one tree. Comparing lists the union of the same
 * directory in both snapshots (merged in tree order), remembering each side's entry so
 * that walking into a directory follows it on both sides.
 */
import type { ObjectId } from '../../core/ids.js';
import type { Entry } from '../../manifest/types.js';

/** One listed entry. */
export interface Item {
  /** The entry shown: the newer version when comparing and it still exists. */
  entry: Entry;
  /** Compare mode: the entry in the older snapshot, if it is there. */
  before?: Entry;
  /** Compare mode: the entry in the newer snapshot, if it is there. */
  after?: Entry;
}

/** Where a directory's entries come from: a tree, or two trees to compare. */
export interface DirSource {
  /** Compare mode: the directory in the older snapshot (absent if it is not there). */
  before?: ObjectId;
  /** The directory (compare mode: in the newer snapshot; absent if it is not there). */
  after?: ObjectId;
  /** True when comparing two snapshots. */
  compare: boolean;
}

/** A stable key for caching a source's listing. */
export function sourceKey(source: DirSource): string {
  return `${source.compare ? 'c' : 'b'}:${source.before ?? ''}:${source.after ?? ''}`;
}

/** The source for walking into `item` (a directory on at least one side), or undefined. */
export function childSource(item: Item, compare: boolean): DirSource | undefined {
  if (!compare) {
    return item.entry.kind === 'dir' ? { after: item.entry.tree, compare } : undefined;
  }
  const before = item.before?.kind === 'dir' ? item.before.tree : undefined;
  const after = item.after?.kind === 'dir' ? item.after.tree : undefined;
  if (before === undefined && after === undefined) return undefined;
  return { before, after, compare };
}

/** Regular files and bytes under an entry: one file, or what a directory records. */
export function weightOf(entry: Entry): { files: number; bytes: number } {
  if (entry.kind === 'file') return { files: 1, bytes: entry.size };
  if (entry.kind === 'dir') return { files: entry.files, bytes: entry.bytes };
  return { files: 0, bytes: 0 };
}

/** The size shown for an entry: file size, or bytes of the files below a directory. */
export function sizeOf(entry: Entry): number {
  if (entry.kind === 'file') return entry.size;
  if (entry.kind === 'dir') return entry.bytes;
  return 0;
}
