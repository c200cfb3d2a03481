/**
 * Comparing two snapshots in the background with `diffTrees`: which paths were
 * added, removed, modified or had only their metadata changed, which directories hold
 * changes, and running totals. Unchanged subtrees are skipped by the Merkle property,
 * so the cost follows the size of the change.
 */
import { useEffect, useState } from 'react';
import { describeError } from '../../core/errors.js';
import type { ObjectId } from '../../core/ids.js';
import {
  addToSummary,
  type ChangeKind,
  type DiffSummary,
  diffTrees,
  emptyDiffSummary,
} from '../../ops/diff.js';
import type { Repository } from '../../repo/repository.js';
import { Pacer } from '../model/pace.js';
import { parentPath } from '../model/paths.js';

/** The comparison as it runs. Maps and sets grow in place; `count` tracks them. */
export interface DiffState {
  /** Change of each changed path. */
  changes: ReadonlyMap<string, ChangeKind>;
  /** Directories with changes somewhere below them (the root is `''`). */
  dirty: ReadonlySet<string>;
  summary: DiffSummary;
  count: number;
  done: boolean;
  error?: string;
}

/** Compares the trees `before` and `after`; with either missing, does nothing. */
export function useDiff(
  repo: Repository,
  before: ObjectId | undefined,
  after: ObjectId | undefined,
): DiffState {
  const [state, setState] = useState<DiffState>(() => empty());
  useEffect(() => {
    if (before === undefined || after === undefined) return;
    const controller = new AbortController();
    const changes = new Map<string, ChangeKind>();
    const dirty = new Set<string>();
    const summary = emptyDiffSummary();
    const publish = (done: boolean, error?: string) =>
      setState({ changes, dirty, summary: { ...summary }, count: changes.size, done, error });
    publish(false);
    const pacer = new Pacer(100);
    (async () => {
      try {
        for await (const item of diffTrees(repo, before, after, '', controller.signal)) {
          changes.set(item.path, item.change);
          addToSummary(summary, item);
          for (let p = parentPath(item.path); p !== undefined && !dirty.has(p); p = parentPath(p)) {
            dirty.add(p);
          }
          const due = await pacer.step();
          if (controller.signal.aborted) return;
          if (due) publish(false);
        }
        publish(true);
      } catch (err) {
        if (!controller.signal.aborted) publish(true, describeError(err));
      }
    })();
    return () => controller.abort();
  }, [repo, before, after]);
  return state;
}

function empty(): DiffState {
  return {
    changes: new Map(),
    dirty: new Set(),
    summary: emptyDiffSummary(),
    count: 0,
    done: false,
  };
}
