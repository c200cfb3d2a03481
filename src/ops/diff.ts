/**
 * `diff`: what changed between two trees. Directories whose tree ids are equal are
 * skipped without being read (the Merkle property), so the cost is proportional to what
 * changed, not to the size of the snapshots.
 */
import type { ObjectId } from '../core/ids.js';
import { compareNames } from '../manifest/names.js';
import type { Entry, EntryKind, FileEntry } from '../manifest/types.js';
import type { Repository } from '../repo/repository.js';
import { walkTree } from './walk.js';

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

/** Yields the differences between tree `a` (before) and tree `b` (after). */
export async function* diffTrees(
  repo: Repository,
  a: ObjectId,
  b: ObjectId,
  prefix = '',
  signal?: AbortSignal,
): AsyncGenerator<DiffItem> {
  if (a === b) return;
  const left = repo.trees.entries(a, signal)[Symbol.asyncIterator]();
  const right = repo.trees.entries(b, signal)[Symbol.asyncIterator]();
  let l = await left.next();
  let r = await right.next();
  while (!l.done || !r.done) {
    const order = l.done ? 1 : r.done ? -1 : compareNames(l.value.name, r.value.name);
    if (order < 0) {
      yield* removed(repo, l.value!, prefix, signal);
      l = await left.next();
    } else if (order > 0) {
      yield* added(repo, r.value!, prefix, signal);
      r = await right.next();
    } else {
      yield* changed(repo, l.value!, r.value!, prefix, signal);
      l = await left.next();
      r = await right.next();
    }
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

async function* added(repo: Repository, e: Entry, prefix: string, signal?: AbortSignal) {
  const path = join(prefix, e.name);
  yield item(path, 'added', e.kind, undefined, sizeOf(e));
  if (e.kind === 'dir') {
    for await (const x of walkTree(repo, e.tree, path, signal)) {
      yield item(x.path, 'added', x.entry.kind, undefined, sizeOf(x.entry));
    }
  }
}

async function* removed(repo: Repository, e: Entry, prefix: string, signal?: AbortSignal) {
  const path = join(prefix, e.name);
  yield item(path, 'removed', e.kind, sizeOf(e), undefined);
  if (e.kind === 'dir') {
    for await (const x of walkTree(repo, e.tree, path, signal)) {
      yield item(x.path, 'removed', x.entry.kind, sizeOf(x.entry), undefined);
    }
  }
}

async function* changed(
  repo: Repository,
  a: Entry,
  b: Entry,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<DiffItem> {
  const path = join(prefix, a.name);
  if (a.kind !== b.kind) {
    yield* removed(repo, a, prefix, signal);
    yield* added(repo, b, prefix, signal);
    return;
  }
  const metaChanged =
    a.mode !== b.mode ||
    a.uid !== b.uid ||
    a.gid !== b.gid ||
    a.mtime.sec !== b.mtime.sec ||
    a.mtime.nsec !== b.mtime.nsec;
  if (a.kind === 'dir' && b.kind === 'dir') {
    if (metaChanged) yield item(path, 'metadata', 'dir', a.bytes, b.bytes);
    yield* diffTrees(repo, a.tree, b.tree, path, signal);
    return;
  }
  if (!sameContent(a, b)) {
    const d = item(path, 'modified', a.kind, sizeOf(a), sizeOf(b));
    if (a.kind === 'file' && b.kind === 'file') d.changedBytes = newContentBytes(a, b);
    yield d;
  } else if (metaChanged) yield item(path, 'metadata', a.kind, sizeOf(a), sizeOf(b));
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
