/**
 * Reading a directory listing from the repository as a stream of rows, and a small
 * cache of finished listings so that going back up is instant.
 */

import { compareNames } from '../../manifest/names.js';
import type { Entry } from '../../manifest/types.js';
import type { Repository } from '../../repo/repository.js';
import { type DirSource, type Item, sourceKey } from './items.js';

/**
 * The rows of `source` in tree order. Comparing merges the two directories (both are
 * sorted by name), so a row appears once with the entry from each side that has it.
 */
export async function* listSource(
  repo: Repository,
  source: DirSource,
  signal?: AbortSignal,
): AsyncGenerator<Item> {
  if (!source.compare) {
    if (source.after === undefined) return;
    for await (const entry of repo.trees.entries(source.after, signal)) yield { entry };
    return;
  }
  const none: AsyncIterator<Entry> = { next: async () => ({ done: true, value: undefined }) };
  const left =
    source.before === undefined
      ? none
      : repo.trees.entries(source.before, signal)[Symbol.asyncIterator]();
  const right =
    source.after === undefined
      ? none
      : repo.trees.entries(source.after, signal)[Symbol.asyncIterator]();
  let l = await left.next();
  let r = await right.next();
  while (!l.done || !r.done) {
    const order = l.done ? 1 : r.done ? -1 : compareNames(l.value.name, r.value.name);
    if (order < 0) {
      const before = l.value as Entry;
      yield { entry: before, before };
      l = await left.next();
    } else if (order > 0) {
      const after = r.value as Entry;
      yield { entry: after, after };
      r = await right.next();
    } else {
      const before = l.value as Entry;
      const after = r.value as Entry;
      yield { entry: after, before, after };
      l = await left.next();
      r = await right.next();
    }
  }
}

/** A listing read to the end. */
export interface Listing {
  items: Item[];
}

/**
 * Finished listings, least recently used dropped first, bounded by total rows so a few
 * huge directories cannot hold all memory.
 */
export class ListingCache {
  private readonly map = new Map<string, Listing>();
  private rows = 0;

  constructor(private readonly maxRows = 500_000) {}

  /** The finished listing of `source`, if cached. */
  get(source: DirSource): Listing | undefined {
    const key = sourceKey(source);
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key);
      this.map.set(key, hit);
    }
    return hit;
  }

  /** Remembers a finished listing. */
  set(source: DirSource, listing: Listing): void {
    const key = sourceKey(source);
    const old = this.map.get(key);
    if (old) this.rows -= old.items.length;
    this.map.set(key, listing);
    this.rows += listing.items.length;
    while (this.rows > this.maxRows && this.map.size > 1) {
      const [oldest, value] = this.map.entries().next().value as [string, Listing];
      this.map.delete(oldest);
      this.rows -= value.items.length;
    }
  }
}
