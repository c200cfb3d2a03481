/**
 * `diff`: what changed between two trees. Directories whose tree ids are equal are
 * skipped without being read (the Merkle property), so the cost is proportional to what
 * changed, not to the size of the snapshots.
 */
import type { ObjectId } from '../core/ids.js';
import { compareNames } from '../manifest/names.js';
import type { Entry, EntryKind, FileEntry } from '../manifest/types.js';
import { sameXattrs } from '../manifest/xattr-codec.js';
import type { Repository } from '../repo/repository.js';
import { closeListings } from './walk.js';

/** How an entry changed. `metadata`: same content, other mode, owner or mtime. */
export type ChangeKind = 'added' | 'removed' | 'modified' | 'metadata';

/** One difference. Sizes are file sizes (directories: bytes of files below). */
export interface DiffItem {
  path: string;
  change: ChangeKind;
  kind: EntryKind;
  sizeBefore?: number;
  sizeAfter?: number;
  /**
   * For modified files: bytes of the new version's content not present in the old one
   * (chunks the old version lacks, or the whole file when stored inline) — what moving
   * from the old version to the new one has to fetch.
   */
  changedBytes?: number;
}

/** Totals over a diff. */
export interface DiffSummary {
  added: number;
  removed: number;
  modified: number;
  metadata: number;
  bytesAdded: number;
  bytesRemoved: number;
}

/**
 * What is left to compare, innermost last: two listings being merged, one listing whose
 * entries are all added or removed, or one entry to report (with everything below it).
 */
type Frame =
  | {
      type: 'merge';
      left: AsyncIterator<Entry>;
      right: AsyncIterator<Entry>;
      /** The current entry of each side; undefined: the next one is still to be read. */
      l: IteratorResult<Entry> | undefined;
      r: IteratorResult<Entry> | undefined;
      prefix: string;
    }
  | { type: 'walk'; entries: AsyncIterator<Entry>; change: 'added' | 'removed'; prefix: string }
  | { type: 'one'; entry: Entry; change: 'added' | 'removed'; prefix: string };

/**
 * Yields the differences between tree `a` (before) and tree `b` (after), depth first in
 * name order. The walk keeps an explicit stack of listings rather than recursing, so a
 * tree of any depth is compared in constant stack space (nested generators overflow
 * V8's stack a few thousand levels down).
 */
export async function* diffTrees(
  repo: Repository,
  a: ObjectId,
  b: ObjectId,
  prefix = '',
  signal?: AbortSignal,
): AsyncGenerator<DiffItem> {
  if (a === b) return;
  const list = (tree: ObjectId) => repo.trees.entries(tree, signal)[Symbol.asyncIterator]();
  const merge = (x: ObjectId, y: ObjectId, at: string): Frame => ({
    type: 'merge',
    left: list(x),
    right: list(y),
    l: undefined,
    r: undefined,
    prefix: at,
  });
  const stack: Frame[] = [merge(a, b, prefix)];
  try {
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.type === 'one') {
        stack.pop();
        const e = top.entry;
        const path = join(top.prefix, e.name);
        yield top.change === 'added'
          ? item(path, 'added', e.kind, undefined, sizeOf(e))
          : item(path, 'removed', e.kind, sizeOf(e), undefined);
        if (e.kind === 'dir') {
          stack.push({ type: 'walk', entries: list(e.tree), change: top.change, prefix: path });
        }
        continue;
      }
      if (top.type === 'walk') {
        const next = await top.entries.next();
        if (next.done) stack.pop();
        else stack.push({ type: 'one', entry: next.value, change: top.change, prefix: top.prefix });
        continue;
      }
      top.l ??= await top.left.next();
      top.r ??= await top.right.next();
      const { l, r } = top;
      if (l.done && r.done) {
        stack.pop();
        continue;
      }
      const order = l.done ? 1 : r.done ? -1 : compareNames(l.value.name, r.value.name);
      if (order < 0) {
        top.l = undefined;
        stack.push({ type: 'one', entry: l.value!, change: 'removed', prefix: top.prefix });
      } else if (order > 0) {
        top.r = undefined;
        stack.push({ type: 'one', entry: r.value!, change: 'added', prefix: top.prefix });
      } else {
        top.l = undefined;
        top.r = undefined;
        const before = l.value!;
        const after = r.value!;
        if (before.kind !== after.kind) {
          // Reported as removed then added (the second frame is taken first).
          stack.push({ type: 'one', entry: after, change: 'added', prefix: top.prefix });
          stack.push({ type: 'one', entry: before, change: 'removed', prefix: top.prefix });
          continue;
        }
        const path = join(top.prefix, before.name);
        const d = changed(path, before, after);
        if (d) yield d;
        if (before.kind === 'dir' && after.kind === 'dir' && before.tree !== after.tree) {
          stack.push(merge(before.tree, after.tree, path));
        }
      }
    }
  } finally {
    await closeListings(
      stack.flatMap((f) =>
        f.type === 'merge' ? [f.left, f.right] : f.type === 'walk' ? [f.entries] : [],
      ),
    );
  }
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`;
}

function sizeOf(e: Entry): number | undefined {
  if (e.kind === 'file') return e.size;
  if (e.kind === 'dir') return e.bytes;
  return undefined;
}

/**
 * The change between two entries of one name and kind at `path`, if any (for
 * directories only their own metadata: what is below is compared separately).
 */
function changed(path: string, a: Entry, b: Entry): DiffItem | undefined {
  const metaChanged =
    a.mode !== b.mode ||
    a.uid !== b.uid ||
    a.gid !== b.gid ||
    a.mtime.sec !== b.mtime.sec ||
    a.mtime.nsec !== b.mtime.nsec ||
    !sameXattrs(a.xattrs, b.xattrs);
  if (a.kind === 'dir' && b.kind === 'dir') {
    return metaChanged ? item(path, 'metadata', 'dir', a.bytes, b.bytes) : undefined;
  }
  if (!sameContent(a, b)) {
    const d = item(path, 'modified', a.kind, sizeOf(a), sizeOf(b));
    if (a.kind === 'file' && b.kind === 'file') d.changedBytes = newContentBytes(a, b);
    return d;
  }
  return metaChanged ? item(path, 'metadata', a.kind, sizeOf(a), sizeOf(b)) : undefined;
}

/** True when two entries of the same kind have the same content. */
function sameContent(a: Entry, b: Entry): boolean {
  if (a.kind === 'file' && b.kind === 'file') return sameFileContent(a, b);
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target;
  if ('rdev' in a || 'rdev' in b)
    return (a as { rdev?: number }).rdev === (b as { rdev?: number }).rdev;
  return true;
}

/** Bytes of `b`'s chunks that `a` does not have (all of `b` if either is inline). */
function newContentBytes(a: FileEntry, b: FileEntry): number {
  if (b.inline || a.inline) return b.size;
  const old = new Set(a.chunks.map((c) => c.id));
  return b.chunks.reduce((n, c) => (old.has(c.id) ? n : n + c.size), 0);
}

function sameFileContent(a: FileEntry, b: FileEntry): boolean {
  if (a.size !== b.size) return false;
  if (a.inline || b.inline) {
    return !!a.inline && !!b.inline && Buffer.from(a.inline).equals(Buffer.from(b.inline));
  }
  return a.chunks.length === b.chunks.length && a.chunks.every((c, i) => c.id === b.chunks[i]!.id);
}

function item(
  path: string,
  change: ChangeKind,
  kind: EntryKind,
  sizeBefore: number | undefined,
  sizeAfter: number | undefined,
): DiffItem {
  const d: DiffItem = { path, change, kind };
  if (sizeBefore !== undefined) d.sizeBefore = sizeBefore;
  if (sizeAfter !== undefined) d.sizeAfter = sizeAfter;
  return d;
}

/** Adds one item to running totals (files only count toward bytes). */
export function addToSummary(s: DiffSummary, d: DiffItem): void {
  s[d.change]++;
  if (d.kind !== 'file') return;
  if (d.change === 'added') s.bytesAdded += d.sizeAfter ?? 0;
  else if (d.change === 'removed') s.bytesRemoved += d.sizeBefore ?? 0;
  else if (d.change === 'modified') {
    const delta = (d.sizeAfter ?? 0) - (d.sizeBefore ?? 0);
    if (delta > 0) s.bytesAdded += delta;
    else s.bytesRemoved -= delta;
  }
}

/** An all-zero summary. */
export function emptyDiffSummary(): DiffSummary {
  return { added: 0, removed: 0, modified: 0, metadata: 0, bytesAdded: 0, bytesRemoved: 0 };
}
