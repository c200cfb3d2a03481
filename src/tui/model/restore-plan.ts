/**
 * Turning a selection into what `restore` takes: a list of snapshot paths to include.
 *
 * A selected directory with deselected parts inside is expanded: its children are
 * listed and each is included whole unless it holds marks itself, down to the marks.
 * Only directories on the way to a deselected path are read.
 */
import { throwIfAborted } from '../../core/abort.js';
import { NotFoundError } from '../../core/errors.js';
import type { ObjectId } from '../../core/ids.js';
import { findEntry, splitSnapshotPath } from '../../ops/snapshot-path.js';
import type { Repository } from '../../repo/repository.js';
import { isInside, joinPath } from './paths.js';
import type { Selection } from './selection.js';

/** The snapshot paths that restore exactly the selected files. */
export async function selectionIncludes(
  repo: Repository,
  root: ObjectId,
  selection: Selection,
  signal?: AbortSignal,
): Promise<string[]> {
  const marks = [...selection.entries()];
  const deselected = marks.filter(([, m]) => !m.selected).map(([p]) => p);
  const includes: string[] = [];
  const expand = async (path: string, tree: ObjectId | undefined): Promise<void> => {
    throwIfAborted(signal);
    if (!deselected.some((d) => isInside(d, path))) {
      includes.push(path);
      return;
    }
    const dir = tree ?? (await treeAt(repo, root, path, signal));
    for await (const child of repo.trees.entries(dir, signal)) {
      const childPath = joinPath(path, child.name);
      // A deselected child is skipped; selected marks inside it are regions of their own.
      if (deselected.includes(childPath)) continue;
      await expand(childPath, child.kind === 'dir' ? child.tree : undefined);
    }
  };
  for (const [path, mark] of marks) if (mark.selected) await expand(path, undefined);
  return includes;
}

/** The tree of directory `path` in the snapshot whose root tree is `root`. */
async function treeAt(
  repo: Repository,
  root: ObjectId,
  path: string,
  signal?: AbortSignal,
): Promise<ObjectId> {
  if (path === '') return root;
  const entry = await findEntry(repo, root, splitSnapshotPath(path), signal);
  if (entry?.kind !== 'dir')
    throw new NotFoundError(path, `${path} is not a directory in the snapshot`);
  return entry.tree;
}
