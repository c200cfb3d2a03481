/**
 * Turning a selection into what `restore` takes: a list of snapshot paths to include.
 *
 * A selected directory with deselected parts inside is expanded: its children are
 * listed and each is included whole unless it holds marks itself, down to the marks.
 * Only directories on the way to a deselected path are read.
 *
 * "Skip existing files" is done here too, because `restore` always overwrites: paths
 * present in the target are dropped, and directories present in the target are opened
 * to keep only what is missing inside them.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../../core/abort.js';
import { NotFoundError } from '../../core/errors.js';
import type { ObjectId } from '../../core/ids.js';
import type { Entry } from '../../manifest/types.js';
import { findEntry, splitSnapshotPath } from '../../ops/snapshot-path.js';
import type { Repository } from '../../repo/repository.js';
import { weightOf } from './items.js';
import { isInside, joinPath, pathNames } from './paths.js';
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

/** The includes left after dropping what already exists in the target. */
export interface ExistingFilter {
  includes: string[];
  /** Regular files (and their bytes) left alone because they exist in the target. */
  skippedFiles: number;
  skippedBytes: number;
}

/**
 * Drops from `includes` every path that exists in `target`, opening directories that
 * exist to keep what is missing inside them. `onChecked` reports paths examined.
 */
export async function withoutExisting(
  repo: Repository,
  root: ObjectId,
  includes: readonly string[],
  target: string,
  signal?: AbortSignal,
  onChecked?: (checked: number) => void,
): Promise<ExistingFilter> {
  const result: ExistingFilter = { includes: [], skippedFiles: 0, skippedBytes: 0 };
  let checked = 0;
  // `entry` undefined: the snapshot root.
  const visit = async (path: string, entry: Entry | undefined): Promise<void> => {
    throwIfAborted(signal);
    checked++;
    if (checked % 256 === 0) onChecked?.(checked);
    const onDisk = await lstat(join(target, ...pathNames(path))).catch((err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    });
    if (!onDisk) {
      result.includes.push(path);
      return;
    }
    const tree = entry === undefined ? root : entry.kind === 'dir' ? entry.tree : undefined;
    if (tree !== undefined && onDisk.isDirectory()) {
      for await (const child of repo.trees.entries(tree, signal)) {
        await visit(joinPath(path, child.name), child);
      }
      return;
    }
    if (entry) {
      const w = weightOf(entry);
      result.skippedFiles += w.files;
      result.skippedBytes += w.bytes;
    }
  };
  for (const path of includes) {
    if (path === '') {
      await visit('', undefined);
      continue;
    }
    const entry = await findEntry(repo, root, splitSnapshotPath(path), signal);
    if (!entry) throw new NotFoundError(path, `${path} is not in the snapshot`);
    await visit(path, entry);
  }
  onChecked?.(checked);
  return result;
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
