/**
 * Ordering and narrowing a directory listing: sort by name (the tree's own order,
 * so free), size or modification time, and keep only names matching a search or rows
 * passing a filter. Work is proportional to the listing and runs only when one of
 * those inputs changes, never per key press.
 */
import type { Item } from './items.js';
import { sizeOf } from './items.js';

/** What a listing can be sorted by. */
export type SortKey = 'name' | 'size' | 'time';

/** The sort keys in the order the `s` key cycles through them. */
export const SORT_KEYS: readonly SortKey[] = ['name', 'size', 'time'];

/** How to arrange a listing. */
export interface ArrangeOptions {
  sort: SortKey;
  /** Reverse the natural order (name: A→Z; size: largest first; time: newest first). */
  reverse: boolean;
  /** Keep names containing this text (case-insensitive); empty keeps all. */
  query: string;
  /** Keep only items passing this test (compare: only changes). */
  keep?: (item: Item) => boolean;
}

/**
 * The rows to show. Returns `items` itself when nothing changes the order or the set
 * (so a listing still loading shows new rows without copying).
 */
export function arrange(items: readonly Item[], options: ArrangeOptions): readonly Item[] {
  const query = options.query.toLowerCase();
  let rows: readonly Item[] = items;
  if (query !== '' || options.keep) {
    const keep = options.keep;
    rows = items.filter(
      (it) => (query === '' || it.entry.name.toLowerCase().includes(query)) && (!keep || keep(it)),
    );
  }
  if (options.sort === 'name') return options.reverse ? [...rows].reverse() : rows;
  const key =
    options.sort === 'size'
      ? (it: Item) => sizeOf(it.entry)
      : (it: Item) => it.entry.mtime.sec + it.entry.mtime.nsec / 1e9;
  const sign = options.reverse ? 1 : -1;
  // Array.prototype.sort is stable: equal keys stay in name order.
  return [...rows].sort((x, y) => sign * (key(x) - key(y)));
}
