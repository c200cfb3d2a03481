/** Walking a snapshot tree: every entry with its path, depth first, in name order. */
import type { ObjectId } from '../core/ids.js';
import type { Entry } from '../manifest/types.js';
import type { Repository } from '../repo/repository.js';

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
  for await (const entry of repo.trees.entries(tree, signal)) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    yield { path, entry };
    if (entry.kind === 'dir') yield* walkTree(repo, entry.tree, path, signal);
  }
}
