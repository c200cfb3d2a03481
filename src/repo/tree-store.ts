/**
 * Writing and reading directory trees.
 *
 * `DirectoryWriter` takes one directory's entries in name order, encodes each once,
 * and stores a page (leaf node) whenever the paging rule says so; `finish` joins the
 * pages with index nodes and returns the directory's tree id. Only the current page is
 * held in memory, so a directory of a million entries costs one page of memory.
 *
 * `TreeReader` reads nodes back (verified and validated), walks the entries of a
 * directory across its pages in order, and finds one name by binary search over the
 * index nodes. Decoded nodes are kept in a small LRU cache.
 */
import { FormatError, hasCode } from '../core/errors.js';
import { nameByteLength } from '../core/fs-names.js';
import type { ObjectId } from '../core/ids.js';
import { compareNames } from '../manifest/names.js';
import { isPageBoundary, type PagingParams } from '../manifest/paging.js';
import { decodeTree, encodeEntryView, encodeIndex, LeafBuilder } from '../manifest/tree-codec.js';
import type { Entry, PageRef, TreeNode } from '../manifest/types.js';
import type { BlobStore } from './blob-store.js';

/** Index levels above the leaves a reader accepts (64 KiB pages: far beyond 10^12 entries). */
export const MAX_INDEX_DEPTH = 6;

/**
 * Pages of one directory being stored at once, when each put is a request. Entries keep
 * coming while pages are written, so reading the next files overlaps with storing the
 * previous page; the cap bounds the memory this holds. Where writes go to worker
 * threads (`BlobStore.writesOnWorkers`) the data leaves this thread at once, and the
 * store's backlog bounds them instead, so reading never waits for one page's fsync.
 */
const PAGES_IN_FLIGHT = 4;

/**
 * Entry bytes a directory's first page has room for before it grows (by doubling):
 * most directories are small; later pages start as large as the largest before them.
 */
const FIRST_PAGE_CAPACITY = 4096;

/** A directory's tree once its id is known; `stored` settles when every node is stored. */
export interface WrittenDirectory {
  tree: ObjectId;
  entries: number;
  /** Resolves once every node of this directory is stored; rejects if one failed. */
  stored: Promise<void>;
}

/**
 * Builds one directory's tree from entries given in name order. Node ids are computed
 * here, so the tree id is known before its nodes are stored (`finishDeferred`). Nodes
 * are still written bottom-up: a page waits for the subtrees its entries name (the
 * `after` of `push`), an index node for its pages.
 */
export class DirectoryWriter {
  /** The page being filled (started by the first entry after a flush). */
  private page: LeafBuilder | undefined;
  /** Room a new page starts with: the largest page of this directory so far. */
  private pageCapacity = FIRST_PAGE_CAPACITY;
  private pageFirst: string | undefined;
  /** What the current page's entries name that is still being stored (subtrees). */
  private pageAfter: Promise<unknown>[] = [];
  private lastName: string | undefined;
  private readonly pages: PageRef[] = [];
  /** Per stored page (same order as `pages`): settles once it is stored. */
  private readonly pagesStored: Promise<unknown>[] = [];
  /** Puts of nodes, oldest first (settled ones are dropped now and then). */
  private storing: { put: Promise<unknown>; settled: boolean }[] = [];
  private failure: { err: unknown } | undefined;
  private count = 0;

  constructor(
    private readonly blobs: BlobStore,
    private readonly paging: PagingParams,
  ) {}

  /**
   * Adds the next entry; names must be strictly increasing in tree order. `after`: the
   * entry names a subtree still being stored (its `stored`); its page waits for it.
   */
  add(entry: Entry, after?: Promise<unknown>): Promise<void> {
    return this.addEncoded(entry.name, encodeEntryView(entry), after);
  }

  /**
   * Adds an entry already encoded with `encodeEntry` (`name` must be its name; the
   * bytes are copied, so they may be a scratch view such as `encodeEntryView` gives).
   */
  async addEncoded(name: string, bytes: Uint8Array, after?: Promise<unknown>): Promise<void> {
    await this.push(name, bytes, after);
  }

  /**
   * `addEncoded` that returns a promise only when a page is being stored and the caller
   * must wait (most calls complete at once: a backup of many small files makes one per
   * file). `bytes` are copied into the page before this returns.
   */
  push(name: string, bytes: Uint8Array, after?: Promise<unknown>): Promise<void> | undefined {
    if (this.lastName !== undefined && compareNames(this.lastName, name) >= 0) {
      throw new RangeError(`entries out of order: ${name} after ${this.lastName}`);
    }
    this.lastName = name;
    this.pageFirst ??= name;
    if (after) this.pageAfter.push(after);
    this.page ??= new LeafBuilder(this.pageCapacity);
    this.page.add(bytes);
    this.count++;
    return isPageBoundary(name, bytes.length, this.page.entryBytes, this.paging)
      ? this.flush()
      : undefined;
  }

  /** The current page as a finished leaf, and a fresh start for the next page. */
  private takeLeaf(): { leaf: Uint8Array; count: number } {
    const page = this.page ?? new LeafBuilder(0);
    this.page = undefined;
    this.pageCapacity = Math.max(this.pageCapacity, page.entryBytes);
    return { leaf: page.finish(), count: page.count };
  }

  /** Starts storing the current page; returns a promise when the caller must wait. */
  private flush(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure.err);
    if (!this.page || this.page.count === 0) return undefined;
    const { leaf, count } = this.takeLeaf();
    const { id, stored } = this.store(leaf, this.takeAfter(), true);
    this.pages.push({ first: this.pageFirst!, tree: id, count });
    this.pagesStored.push(stored);
    this.pageFirst = undefined;
    if (this.blobs.writesOnWorkers) return this.blobs.backlog();
    const unsettled = this.storing.filter((s) => !s.settled);
    return unsettled.length >= PAGES_IN_FLIGHT
      ? unsettled[0]!.put.then(() => this.blobs.backlog())
      : this.blobs.backlog();
  }

  /** What the current page waits for, as one promise (undefined: nothing). */
  private takeAfter(): Promise<unknown> | undefined {
    const after = this.pageAfter;
    this.pageAfter = [];
    return after.length === 0 ? undefined : after.length === 1 ? after[0] : Promise.all(after);
  }

  /**
   * Starts storing one node (once `after` resolves); returns its id at once. `movable`:
   * the node's buffer is its own, and may move to the thread that writes it.
   */
  private store(
    node: Uint8Array,
    after: Promise<unknown> | undefined,
    movable = false,
  ): { id: ObjectId; stored: Promise<unknown> } {
    const { id, stored } = this.blobs.putDeferred('tree', node, after, { movable });
    const item = { put: stored as Promise<unknown>, settled: false };
    stored.then(
      () => {
        item.settled = true;
      },
      (err: unknown) => {
        item.settled = true;
        this.failure ??= { err };
      },
    );
    if (this.storing.length >= 64) this.storing = this.storing.filter((s) => !s.settled);
    this.storing.push(item);
    return { id, stored };
  }

  /** Stores what is left and returns the directory's tree id and entry count. */
  async finish(): Promise<{ tree: ObjectId; entries: number }> {
    const { tree, entries, stored } = await this.finishDeferred();
    await stored;
    return { tree, entries };
  }

  /**
   * Like `finish`, but resolves as soon as the tree id is known; the nodes may still be
   * being stored (`stored`). A backup records the id in the parent at once and waits for
   * `stored` before anything may rely on the tree being complete.
   */
  async finishDeferred(): Promise<WrittenDirectory> {
    if (this.pages.length === 0) {
      // Fits in one leaf (or is empty): the leaf is the directory node.
      const { id } = this.store(this.takeLeaf().leaf, this.takeAfter(), true);
      return { tree: id, entries: this.count, stored: this.allStored() };
    }
    await this.flush();
    let level = this.pages.map((ref, i) => ({ ref, stored: this.pagesStored[i]! }));
    while (level.length > 1) level = await this.indexLevel(level);
    return { tree: level[0]!.ref.tree, entries: this.count, stored: this.allStored() };
  }

  /** Settles when every put started so far has; rejects with the first failure. */
  private allStored(): Promise<void> {
    const puts = this.storing.filter((s) => !s.settled).map((s) => s.put);
    this.storing = [];
    const all = Promise.all(puts).then(() => {
      if (this.failure) throw this.failure.err;
    });
    all.catch(() => {}); // the caller awaits it
    return all;
  }

  /**
   * Groups one level of page refs into index nodes with the same boundary rule; each
   * index node is written once the nodes it groups are stored.
   */
  private async indexLevel(refs: StoringRef[]): Promise<StoringRef[]> {
    const next: StoringRef[] = [];
    let group: StoringRef[] = [];
    let groupBytes = 0;
    const emit = async () => {
      const { id, stored } = this.store(
        encodeIndex(group.map((g) => g.ref)),
        Promise.all(group.map((g) => g.stored)),
      );
      next.push({
        ref: {
          first: group[0]!.ref.first,
          tree: id,
          count: group.reduce((n, g) => n + g.ref.count, 0),
        },
        stored,
      });
      group = [];
      groupBytes = 0;
      await this.blobs.backlog();
    };
    for (const item of refs) {
      group.push(item);
      // An index item is the name, a 32-byte id and a count: about 40 bytes + the name.
      const itemBytes = 40 + nameByteLength(item.ref.first);
      groupBytes += itemBytes;
      if (isPageBoundary(item.ref.first, itemBytes, groupBytes, this.paging)) await emit();
    }
    if (group.length > 0) await emit();
    // A level that did not shrink (every item a boundary) would loop: force one node.
    if (next.length === refs.length) {
      group = refs;
      next.length = 0;
      await emit();
    }
    return next;
  }
}

/** A page or index node being stored: its ref, and when it is stored. */
interface StoringRef {
  ref: PageRef;
  stored: Promise<unknown>;
}

/**
 * Bytes of tree nodes a TreeReader keeps decoded (by their stored plaintext size). Leaf
 * pages hold the content of inline files, up to a few hundred KiB each, so a count
 * alone would let 256 of them hold tens of MiB.
 */
const CACHE_BYTES = 8 * 1024 * 1024;
/** The same for `TreeReader.forSingleWalk`. */
const SINGLE_WALK_CACHE_BYTES = 1024 * 1024;
/** The largest node `TreeReader.forWalk` keeps, and the bytes of nodes it keeps at most. */
const WALK_NODE_BYTES = 16 * 1024;
const WALK_CACHE_BYTES = 1024 * 1024;

/** Reads tree nodes and directories. */
export class TreeReader {
  private readonly cache = new Map<ObjectId, { node: TreeNode; bytes: number }>();
  private cachedBytes = 0;

  /**
   * @param cacheSize most nodes kept decoded
   * @param cacheBytes most bytes of nodes kept decoded (see CACHE_BYTES)
   * @param maxNodeBytes larger nodes are not kept (see `forWalk`)
   */
  constructor(
    private readonly blobs: BlobStore,
    private readonly cacheSize = 256,
    private readonly cacheBytes = CACHE_BYTES,
    private readonly maxNodeBytes = cacheBytes,
  ) {}

  /**
   * A reader for walks that read each node once (check, prune: `entries` with `onNode`
   * instead of `nodeIds` then `entries`, which reads every page twice). It keeps 1 MiB
   * of nodes: decoded, a leaf page takes about three times its stored size (an object
   * and an id string per chunk), so the default 8 MiB would hold some 25 MiB of heap.
   */
  static forSingleWalk(blobs: BlobStore): TreeReader {
    return new TreeReader(blobs, 64, SINGLE_WALK_CACHE_BYTES);
  }

  /**
   * A reader for walks that list each directory once and hold its entries briefly
   * (restore, `ls`, `dump`). It keeps only nodes of at most WALK_NODE_BYTES: small
   * directories, which deduplication makes repeat across a tree, are read once, but
   * the large pages, which hold most of a tree's bytes where files are inline, are not
   * kept. Entries reachable from a cache survive the young generation's collections
   * and die in the old one, which then collects far more often: listing the 100,000
   * small files of the bench (2,786 pages of about 300 KiB) took the calling thread
   * 2.9-3.3 s of CPU with the default cache, 2.6-2.8 s with 1 MiB of any nodes, and
   * 1.7-2.2 s keeping none (docs/performance.md).
   */
  static forWalk(blobs: BlobStore): TreeReader {
    return new TreeReader(blobs, 256, WALK_CACHE_BYTES, WALK_NODE_BYTES);
  }

  /** One verified, validated tree node. */
  async node(id: ObjectId, signal?: AbortSignal): Promise<TreeNode> {
    const hit = this.cache.get(id);
    if (hit) {
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit.node;
    }
    const bytes = await this.blobs.get('tree', id, { signal });
    const node = decodeTree(bytes, `tree ${id}`);
    if (
      bytes.length <= this.cacheBytes &&
      bytes.length <= this.maxNodeBytes &&
      !this.cache.has(id)
    ) {
      this.cache.set(id, { node, bytes: bytes.length });
      this.cachedBytes += bytes.length;
      while (this.cache.size > this.cacheSize || this.cachedBytes > this.cacheBytes) {
        const [oldest, entry] = this.cache.entries().next().value!;
        this.cache.delete(oldest);
        this.cachedBytes -= entry.bytes;
      }
    }
    return node;
  }

  /**
   * Every entry of the directory `id`, in name order, across pages. Checks that pages
   * agree with their index (first name, count, order), so a hostile index cannot
   * reorder, duplicate or hide entries. `onNode` is told each node id (index or page) as
   * it is read: the same ids as `nodeIds`, without reading the pages a second time.
   */
  async *entries(
    id: ObjectId,
    signal?: AbortSignal,
    onNode?: (node: ObjectId) => void,
  ): AsyncGenerator<Entry> {
    let previous: string | undefined;
    for await (const entry of this.walk(id, 0, undefined, signal, onNode)) {
      if (previous !== undefined && compareNames(previous, entry.name) >= 0) {
        throw new FormatError(`tree ${id}`, `pages overlap at ${JSON.stringify(entry.name)}`);
      }
      previous = entry.name;
      yield entry;
    }
  }

  private async *walk(
    id: ObjectId,
    depth: number,
    expect: PageRef | undefined,
    signal?: AbortSignal,
    onNode?: (node: ObjectId) => void,
  ): AsyncGenerator<Entry> {
    if (depth > MAX_INDEX_DEPTH) throw new FormatError(`tree ${id}`, 'index nested too deeply');
    const node = await this.node(id, signal);
    onNode?.(id);
    if (node.kind === 'leaf') {
      if (expect) {
        if (node.entries.length !== expect.count || node.entries[0]?.name !== expect.first) {
          throw new FormatError(`tree ${id}`, 'page does not match its index entry');
        }
      }
      yield* node.entries;
      return;
    }
    if (
      expect &&
      (node.pages[0]!.first !== expect.first || sumCounts(node.pages) !== expect.count)
    ) {
      throw new FormatError(`tree ${id}`, 'index node does not match its parent');
    }
    for (const page of node.pages) yield* this.walk(page.tree, depth + 1, page, signal, onNode);
  }

  /**
   * The entries of directory `id` that can still be read, in name order (`cairn repair
   * snapshots`). A node that is missing, corrupt (fails its hash or does not decode) or
   * does not fit its index (order, first name, count: `misfit`, which may be another
   * directory's sound node) is passed over with everything under it, and told to
   * `onLost` with the number of entries its index gave it (undefined for `id` itself).
   * A node met a second time in the directory is a misfit too: a directory never holds
   * one node twice (its entries would overlap), and a hostile one whose pages share
   * nodes would otherwise be walked once per path, exponentially many. `onNode` is told
   * every node read and kept. Errors other than damage (an aborted signal, a backend
   * that cannot be reached) still throw.
   */
  async *salvage(
    id: ObjectId,
    onLost: (node: ObjectId, entries: number | undefined, how: LostNode, err: Error) => void,
    signal?: AbortSignal,
    onNode?: (node: ObjectId) => void,
  ): AsyncGenerator<Entry> {
    const state = { previous: undefined as string | undefined, met: new Set<ObjectId>() };
    yield* this.salvageWalk(id, 0, undefined, state, { onLost, onNode, signal });
  }

  private async *salvageWalk(
    id: ObjectId,
    depth: number,
    expect: PageRef | undefined,
    state: { previous: string | undefined; met: Set<ObjectId> },
    on: {
      onLost: (node: ObjectId, entries: number | undefined, how: LostNode, err: Error) => void;
      onNode: ((node: ObjectId) => void) | undefined;
      signal: AbortSignal | undefined;
    },
  ): AsyncGenerator<Entry> {
    if (state.met.has(id)) {
      on.onLost(id, expect?.count, 'misfit', metTwice(id));
      return;
    }
    state.met.add(id);
    let node: TreeNode;
    try {
      node = await this.node(id, on.signal);
    } catch (err) {
      if (!isDamageCode(err)) throw err;
      on.onLost(id, expect?.count, hasCode(err, 'not-found') ? 'missing' : 'corrupt', err as Error);
      return;
    }
    const misfit = misfitOf(id, node, depth, expect, state.previous);
    if (misfit) {
      on.onLost(id, expect?.count, 'misfit', misfit);
      return;
    }
    on.onNode?.(id);
    if (node.kind === 'leaf') {
      if (node.entries.length > 0) state.previous = node.entries.at(-1)!.name;
      yield* node.entries;
      return;
    }
    for (const page of node.pages) {
      yield* this.salvageWalk(page.tree, depth + 1, page, state, on);
    }
  }

  /** The entry called `name` in directory `id`, or undefined. */
  async lookup(id: ObjectId, name: string, signal?: AbortSignal): Promise<Entry | undefined> {
    let node = await this.node(id, signal);
    for (let depth = 0; node.kind === 'index'; depth++) {
      if (depth > MAX_INDEX_DEPTH) throw new FormatError(`tree ${id}`, 'index nested too deeply');
      const page = lastPageStartingAtOrBefore(node.pages, name);
      if (!page) return undefined;
      node = await this.node(page.tree, signal);
    }
    let lo = 0;
    let hi = node.entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = compareNames(node.entries[mid]!.name, name);
      if (c === 0) return node.entries[mid];
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** The ids of every node of directory `id` (itself, index nodes and pages). */
  async nodeIds(id: ObjectId, signal?: AbortSignal): Promise<ObjectId[]> {
    const ids = [id];
    const node = await this.node(id, signal);
    if (node.kind === 'index') {
      for (const p of node.pages) ids.push(...(await this.nodeIds(p.tree, signal)));
    }
    return ids;
  }
}

/** Why `salvage` passes over a node met a second time in one directory. */
export function metTwice(id: ObjectId): FormatError {
  return new FormatError(`tree ${id}`, 'node met twice in one directory');
}

/** How `salvage` lost a node (see there). */
export type LostNode = 'missing' | 'corrupt' | 'misfit';

/**
 * Why `node` (read as `id`) cannot stand where it is read: nested too deeply, not the
 * page or index its parent's entry describes, or names that do not follow `previous`
 * (the last name kept before it); undefined when it fits.
 */
export function misfitOf(
  id: ObjectId,
  node: TreeNode,
  depth: number,
  expect: PageRef | undefined,
  previous: string | undefined,
): FormatError | undefined {
  if (depth > MAX_INDEX_DEPTH) return new FormatError(`tree ${id}`, 'index nested too deeply');
  if (expect && node.kind === 'leaf') {
    if (node.entries.length !== expect.count || node.entries[0]?.name !== expect.first) {
      return new FormatError(`tree ${id}`, 'page does not match its index entry');
    }
  }
  if (
    expect &&
    node.kind === 'index' &&
    (node.pages[0]?.first !== expect.first || sumCounts(node.pages) !== expect.count)
  ) {
    return new FormatError(`tree ${id}`, 'index node does not match its parent');
  }
  if (node.kind === 'leaf') {
    for (const e of node.entries) {
      if (previous !== undefined && compareNames(previous, e.name) >= 0) {
        return new FormatError(`tree ${id}`, `pages overlap at ${JSON.stringify(e.name)}`);
      }
      previous = e.name;
    }
  }
  return undefined;
}

/** A node that is missing, fails its hash, or does not decode: damage, not a failed run. */
function isDamageCode(err: unknown): boolean {
  return hasCode(err, 'format') || hasCode(err, 'integrity') || hasCode(err, 'not-found');
}

function sumCounts(pages: PageRef[]): number {
  return pages.reduce((n, p) => n + p.count, 0);
}

function lastPageStartingAtOrBefore(pages: PageRef[], name: string): PageRef | undefined {
  let found: PageRef | undefined;
  for (const p of pages) {
    if (compareNames(p.first, name) <= 0) found = p;
    else break;
  }
  return found;
}
