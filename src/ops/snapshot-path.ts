/** Paths inside a snapshot: `a/b/c` relative to the snapshot root. */
import { UsageError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { nameProblem } from '../manifest/names.js';
import type { Entry } from '../manifest/types.js';
import type { Repository } from '../repo/repository.js';

/** Splits a snapshot path into names; `''`, `/` and `.` are the root (no names). */
export function splitSnapshotPath(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  for (const p of parts) {
    const problem = nameProblem(p);
    if (problem) throw new UsageError(`bad snapshot path ${JSON.stringify(path)}: ${problem}`);
  }
  return parts;
}

/** The entry at `parts` below tree `root`, or undefined. */
export async function findEntry(
  repo: Repository,
  root: ObjectId,
  parts: string[],
  signal?: AbortSignal,
): Promise<Entry | undefined> {
  let tree = root;
  let entry: Entry | undefined;
  for (let i = 0; i < parts.length; i++) {
    entry = await repo.trees.lookup(tree, parts[i]!, signal);
    if (!entry) return undefined;
    if (i < parts.length - 1) {
      if (entry.kind !== 'dir') return undefined;
      tree = entry.tree;
    }
  }
  return entry;
}
