/**
 * `find`: the entries of snapshots whose name, or for a pattern with `/` whose path,
 * matches a glob (exclude.ts's syntax: `*.sql`, `/home/*\/notes.txt`, `build/tmp`).
 * Snapshot paths are matched as absolute (`/a/b/c` for the snapshot's `a/b/c`).
 *
 * Snapshots share most of their trees, and a subtree's matches by name depend on its
 * content alone: a subtree (by id) found to hold no match is not read again in a later
 * snapshot (a bounded memo), so searching a hundred snapshots of one machine reads
 * little more than the first plus what changed. Path patterns depend on where a
 * subtree is, and are searched in full. The walk keeps an explicit stack (any depth)
 * and yields matches as it finds them (memory does not grow with their number).
 */
import { throwIfAborted } from '../core/abort.js';
import type { ObjectId } from '../core/ids.js';
import type { Entry } from '../manifest/types.js';
import { LruMap } from '../repo/lru.js';
import type { Repository } from '../repo/repository.js';
import { ExcludeMatcher } from './exclude.js';
import { closeListings } from './walk.js';

/** Subtrees known to hold no match, at most (their ids, about 150 bytes each). */
const NO_MATCH_MEMO = 100_000;

/** A match: its path in the snapshot (`a/b/c`) and its entry. */
export interface FindMatch {
  path: string;
  entry: Entry;
}

/** Compiled patterns and the memo of one search over many snapshots. */
export class FindPatterns {
  private readonly matcher: ExcludeMatcher;
  /** Subtrees without a match (only for name patterns; see the module comment). */
  private readonly noMatch = new LruMap<ObjectId, true>(NO_MATCH_MEMO);

  /** UsageError for a pattern that cannot be compiled or never matches. */
  constructor(patterns: readonly string[], options: { ignoreCase?: boolean } = {}) {
    this.matcher = new ExcludeMatcher(patterns, { ignoreCase: options.ignoreCase ?? false });
  }

  /** True when `path` (absolute form) named `name` matches. */
  matches(path: string, name: string): boolean {
    return this.matcher.excludes(path, name);
  }

  /** Whether subtree `tree` is known to hold no match (a hit keeps it remembered). */
  knownEmpty(tree: ObjectId): boolean {
    return !this.matcher.matchesPaths && this.noMatch.get(tree) !== undefined;
  }

  /** Records that subtree `tree` holds no match. */
  noteEmpty(tree: ObjectId): void {
    if (!this.matcher.matchesPaths) this.noMatch.set(tree, true);
  }
}

/** The matches below tree `root` (a snapshot's), depth first, in name order. */
export async function* findInTree(
  repo: Repository,
  root: ObjectId,
  patterns: FindPatterns,
  signal?: AbortSignal,
): AsyncGenerator<FindMatch> {
  if (patterns.knownEmpty(root)) return;
  interface Frame {
    tree: ObjectId;
    prefix: string;
    entries: AsyncIterator<Entry>;
    found: boolean;
  }
  const open = (tree: ObjectId, prefix: string): Frame => ({
    tree,
    prefix,
    entries: repo.trees.entries(tree, signal)[Symbol.asyncIterator](),
    found: false,
  });
  const stack: Frame[] = [open(root, '')];
  try {
    while (stack.length > 0) {
      // Listings read from the memo's and the tree cache's hits ask the signal nothing.
      throwIfAborted(signal);
      const top = stack[stack.length - 1]!;
      const next = await top.entries.next();
      if (next.done) {
        stack.pop();
        if (top.found) {
          const parent = stack[stack.length - 1];
          if (parent) parent.found = true;
        } else patterns.noteEmpty(top.tree);
        continue;
      }
      const entry = next.value;
      const path = top.prefix === '' ? entry.name : `${top.prefix}/${entry.name}`;
      if (patterns.matches(`/${path}`, entry.name)) {
        top.found = true;
        yield { path, entry };
      }
      if (entry.kind === 'dir' && !patterns.knownEmpty(entry.tree)) {
        stack.push(open(entry.tree, path));
      }
    }
  } finally {
    await closeListings(stack.map((s) => s.entries));
  }
}
