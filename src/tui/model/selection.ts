/**
 * What the user has marked for restore, as a small set of marks on paths.
 *
 * A mark says "from here down, everything is selected" (or "...is not"). Marks
 * alternate along every path: a mark always differs from the state it inherits, so a
 * redundant mark is never stored. That keeps three things cheap whatever the tree size:
 * - the state of any path: its nearest marked ancestor (or itself) decides;
 * - the totals: each mark adds (selected) or subtracts (deselected) the files and
 *   bytes of its whole subtree, and the alternation makes the signed sum exact;
 * - a partly selected directory: one with any mark strictly inside it.
 * Marking a directory uses the `files`/`bytes` its entry records, so selecting a
 * directory of a million files costs one mark and reads nothing.
 */
import { isInside, parentPath } from './paths.js';

/** The weight of a marked path: regular files below it (itself, for a file) and their bytes. */
export interface Weight {
  files: number;
  bytes: number;
}

/** One mark: the state it gives its subtree, and that subtree's weight. */
export interface Mark extends Weight {
  selected: boolean;
}

/** How a path shows: wholly selected, partly (a directory), or not at all. */
export type SelectState = 'all' | 'some' | 'none';

/** An immutable selection; every change returns a new one (React compares by identity). */
export class Selection {
  private partialDirs: Set<string> | undefined;

  private constructor(private readonly marks: ReadonlyMap<string, Mark>) {}

  /** Nothing selected. */
  static empty(): Selection {
    return new Selection(new Map());
  }

  /** Everything under `path` selected (`''`: the whole snapshot). */
  static of(path: string, weight: Weight): Selection {
    return Selection.empty().toggle(path, weight);
  }

  /** True when no mark is set. */
  get isEmpty(): boolean {
    return this.marks.size === 0;
  }

  /** Regular files selected. */
  get files(): number {
    return this.sum('files');
  }

  /** Bytes of the regular files selected. */
  get bytes(): number {
    return this.sum('bytes');
  }

  /** The marks, for planning a restore. */
  entries(): IterableIterator<[string, Mark]> {
    return this.marks.entries();
  }

  /** True when `path` itself is (wholly or partly) selected by its nearest mark. */
  isSelected(path: string): boolean {
    for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
      const mark = this.marks.get(p);
      if (mark) return mark.selected;
    }
    return false;
  }

  /** How `path` shows: `some` when marks inside it make it partly selected. */
  stateOf(path: string): SelectState {
    if (this.hasMarksInside(path)) return 'some';
    return this.isSelected(path) ? 'all' : 'none';
  }

  /** True when some mark lies strictly inside `dir`. */
  hasMarksInside(dir: string): boolean {
    if (!this.partialDirs) {
      const dirs = new Set<string>();
      for (const path of this.marks.keys()) {
        for (let p = parentPath(path); p !== undefined && !dirs.has(p); p = parentPath(p)) {
          dirs.add(p);
        }
      }
      this.partialDirs = dirs;
    }
    return this.partialDirs.has(dir);
  }

  /**
   * Flips `path` (a file, or a directory with everything below it). A partly selected
   * directory becomes wholly selected. `weight` is the path's files and bytes.
   */
  toggle(path: string, weight: Weight): Selection {
    const wanted = this.stateOf(path) === 'some' ? true : !this.isSelected(path);
    return this.set(path, wanted, weight);
  }

  /** Sets `path` and everything below it to `selected`. */
  set(path: string, selected: boolean, weight: Weight): Selection {
    const next = new Map(this.marks);
    for (const key of this.marks.keys()) if (isInside(key, path)) next.delete(key);
    next.delete(path);
    const parent = parentPath(path);
    const inherited = parent === undefined ? false : new Selection(next).isSelected(parent);
    if (selected !== inherited)
      next.set(path, { selected, files: weight.files, bytes: weight.bytes });
    return new Selection(next);
  }

  /**
   * Replaces marks inside directory `dir` by one mark on it when they select all of
   * its `children` (their paths) or none of them, so a directory whose entries were
   * all picked one by one shows as selected, not partly selected.
   */
  collapse(dir: string, weight: Weight, children: readonly string[]): Selection {
    if (children.length === 0 || !this.hasMarksInside(dir)) return this;
    if (children.every((c) => this.stateOf(c) === 'all')) return this.set(dir, true, weight);
    if (children.every((c) => this.stateOf(c) === 'none')) return this.set(dir, false, weight);
    return this;
  }

  private sum(field: 'files' | 'bytes'): number {
    let total = 0;
    for (const mark of this.marks.values()) total += mark.selected ? mark[field] : -mark[field];
    return total;
  }
}
