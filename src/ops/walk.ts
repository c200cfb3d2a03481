/**
 * Walking a snapshot tree: every entry with its path, depth first, in name order.
 *
 * The walk keeps an explicit stack of open directory listings instead of recursing, so
 * a tree thousands of directories deep costs one stack entry per level, not nested
 * generators (each `yield*` level adds call frames to every step, and a few thousand
 * levels overflow V8's stack).
 */
import type { ObjectId } from '../core/ids.js';
import type { Entry } from '../manifest/types.js';
import type { Repository } from '../repo/repository.js';
import { TreeReader } from '../repo/tree-store.js';

/** An entry and its path inside the snapshot (`a/b/c`, no leading slash). */
export interface PathEntry {
  path: string;
  entry: Entry;
}

/** Every entry below tree `tree`, paths prefixed with `prefix`. */
export async function* walkTree(
  repo: Repository,
  tree: ObjectId,
  prefix = '',
  signal?: AbortSignal,
): AsyncGenerator<PathEntry> {
  // Each directory is listed once: a reader that keeps only small nodes (see TreeReader.forWalk).
  const trees = TreeReader.forWalk(repo.blobs);
  const stack: { entries: AsyncIterator<Entry>; prefix: string }[] = [
    { entries: trees.entries(tree, signal)[Symbol.asyncIterator](), prefix },
  ];
  try {
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const next = await top.entries.next();
      if (next.done) {
        stack.pop();
        continue;
      }
      const entry = next.value;
      const path = top.prefix === '' ? entry.name : `${top.prefix}/${entry.name}`;
      yield { path, entry };
      if (entry.kind === 'dir') {
        stack.push({
          entries: trees.entries(entry.tree, signal)[Symbol.asyncIterator](),
          prefix: path,
        });
      }
    }
  } finally {
    await closeListings(stack.map((s) => s.entries));
  }
}

/**
 * Ends listings left open (the consumer stopped early, or one failed), innermost first,
 * as nested generators would. Errors while closing are not reported: the walk is over.
 */
export async function closeListings(iterators: AsyncIterator<unknown>[]): Promise<void> {
  for (let i = iterators.length - 1; i >= 0; i--) {
    try {
      await iterators[i]!.return?.();
    } catch {
      // already failed or finished
    }
  }
}
