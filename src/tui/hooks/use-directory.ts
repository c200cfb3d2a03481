/**
 * A directory listing that loads in the background. Rows appear as pages arrive (the
 * view redraws at most every 50 ms while loading) and the loop yields to the event
 * loop between slices, so key presses are handled while a 100,000-entry directory is
 * still being read. Leaving the directory cancels the read; finished listings are
 * cached, so going back to one is instant.
 */
import { useEffect, useState } from 'react';
import { describeError } from '../../core/errors.js';
import type { Repository } from '../../repo/repository.js';
import { type DirSource, type Item, sourceKey } from '../model/items.js';
import { type ListingCache, listSource } from '../model/listing.js';
import { Pacer } from '../model/pace.js';

/** A listing as it loads. `items` grows in place; `count` says how much is there. */
export interface DirectoryState {
  items: readonly Item[];
  count: number;
  done: boolean;
  error?: string;
}

const LOADING: DirectoryState = { items: [], count: 0, done: false };

/** The rows of `source`, loading incrementally. */
export function useDirectory(
  repo: Repository,
  source: DirSource,
  cache: ListingCache,
): DirectoryState {
  const key = sourceKey(source);
  const [state, setState] = useState<DirectoryState & { key: string }>({ ...LOADING, key: '' });
  const { before, after, compare } = source;
  useEffect(() => {
    const src: DirSource = { before, after, compare };
    const k = sourceKey(src);
    const hit = cache.get(src);
    if (hit) {
      setState({ key: k, items: hit.items, count: hit.items.length, done: true });
      return;
    }
    const controller = new AbortController();
    const items: Item[] = [];
    setState({ key: k, items, count: 0, done: false });
    const pacer = new Pacer(50);
    (async () => {
      try {
        for await (const item of listSource(repo, src, controller.signal)) {
          items.push(item);
          const publish = await pacer.step();
          if (controller.signal.aborted) return;
          if (publish) setState({ key: k, items, count: items.length, done: false });
        }
        cache.set(src, { items });
        setState({ key: k, items, count: items.length, done: true });
      } catch (err) {
        if (controller.signal.aborted) return;
        setState({ key: k, items, count: items.length, done: true, error: describeError(err) });
      }
    })();
    return () => controller.abort();
  }, [repo, cache, before, after, compare]);
  if (state.key === key) return state;
  // The effect for a new source has not run yet: show a cached listing at once.
  const hit = cache.get(source);
  return hit ? { items: hit.items, count: hit.items.length, done: true } : LOADING;
}
