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
import { FormatError } from '../core/errors.js';
import { nameByteLength } from '../core/fs-names.js';
import type { ObjectId } from '../core/ids.js';
import { compareNames } from '../manifest/names.js';
import { isPageBoundary, type PagingParams } from '../manifest/paging.js';
import { decodeTree, encodeEntry, encodeIndex, encodeLeaf } from '../manifest/tree-codec.js';
import type { Entry, PageRef, TreeNode } from '../manifest/types.js';
import type { BlobStore } from './blob-store.js';

/** Index levels above the leaves a reader accepts (64 KiB pages: far beyond 10^12 entries). */
export const MAX_INDEX_DEPTH = 6;

/**
 * Pages of one directory being stored at once. Entries keep coming while pages are
 * written (on worker threads for a local repository), so reading the next files
 * overlaps with storing the previous page; the cap bounds the memory this holds.
 */
const PAGES_IN_FLIGHT = 4;

/** Builds one directory's tree from entries given in name order. */
export class DirectoryWriter {
  private page: Uint8Array[] = [];
  private pageBytes = 0;
  private pageFirst: string | undefined;
  private lastName: string | undefined;
  /** Refs of stored pages, in order; a slot is filled when its page's put resolves. */
  private readonly pages: PageRef[] = [];
  /** Puts of pages not yet awaited, oldest first. */
  private readonly storing: Promise<void>[] = [];
  private count = 0;

  constructor(
    private readonly blobs: BlobStore,
    private readonly paging: PagingParams,
  ) {}

  /** Adds the next entry; names must be strictly increasing in tree order. */
  add(entry: Entry): Promise<void> {
    return this.addEncoded(entry.name, encodeEntry(entry));
  }

  /** Adds an entry already encoded with `encodeEntry` (`name` must be its name). */
  async addEncoded(name: string, bytes: Uint8Array): Promise<void> {
    await this.push(name, bytes);
  }

  /**
   * `addEncoded` that returns a promise only when a page is being stored (most calls
   * complete at once: a backup of many small files makes one per file).
   */
  push(name: string, bytes: Uint8Array): Promise<void> | undefined {
    if (this.lastName !== undefined && compareNames(this.lastName, name) >= 0) {
      throw new RangeError(`entries out of order: ${name} after ${this.lastName}`);
    }
    this.lastName = name;
    this.pageFirst ??= name;
    this.page.push(bytes);
    this.pageBytes += bytes.length;
    this.count++;
    return isPageBoundary(name, bytes.length, this.pageBytes, this.paging)
      ? this.flush()
      : undefined;
  }

  /**
   * Starts storing the current page; returns a promise (of the oldest put) only when
   * PAGES_IN_FLIGHT are being stored.
   */
  private flush(): Promise<void> | undefined {
    if (this.page.length === 0) return undefined;
    const slot = this.pages.length;
    const ref: PageRef = { first: this.pageFirst!, tree: '', count: this.page.length };
    this.pages.push(ref);
    const put = this.blobs.put('tree', encodeLeaf(this.page)).then(({ id }) => {
      this.pages[slot] = { ...ref, tree: id };
    });
    put.catch(() => {}); // awaited later (or the directory has failed anyway)
    this.storing.push(put);
    this.page = [];
    this.pageBytes = 0;
    this.pageFirst = undefined;
    return this.storing.length >= PAGES_IN_FLIGHT ? this.storing.shift() : undefined;
  }

  /** Stores what is left and returns the directory's tree id and entry count. */
  async finish(): Promise<{ tree: ObjectId; entries: number }> {
    if (this.pages.length === 0) {
      // Fits in one leaf (or is empty): the leaf is the directory node.
      const { id } = await this.blobs.put('tree', encodeLeaf(this.page));
      this.page = [];
      return { tree: id, entries: this.count };
    }
    await this.flush();
    while (this.storing.length > 0) await this.storing.shift();
    let level = this.pages;
    while (level.length > 1) level = await this.indexLevel(level);
    return { tree: level[0]!.tree, entries: this.count };
  }

  /** Groups one level of page refs into index nodes with the same boundary rule. */
  private async indexLevel(refs: PageRef[]): Promise<PageRef[]> {
    const next: PageRef[] = [];
    let group: PageRef[] = [];
    let groupBytes = 0;
    const emit = async () => {
      const { id } = await this.blobs.put('tree', encodeIndex(group));
      next.push({
        first: group[0]!.first,
        tree: id,
        count: group.reduce((n, r) => n + r.count, 0),
      });
      group = [];
      groupBytes = 0;
    };
    for (const ref of refs) {
      group.push(ref);
      // An index item is the name, a 32-byte id and a count: about 40 bytes + the name.
      const itemBytes = 40 + nameByteLength(ref.first);
      groupBytes += itemBytes;
      if (isPageBoundary(ref.first, itemBytes, groupBytes, this.paging)) await emit();
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

/** Reads tree nodes and directories. */
export class TreeReader {
  private readonly cache = new Map<ObjectId, TreeNode>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly cacheSize = 256,
  ) {}

  /** One verified, validated tree node. */
  async node(id: ObjectId, signal?: AbortSignal): Promise<TreeNode> {
    const hit = this.cache.get(id);
    if (hit) {
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    const bytes = await this.blobs.get('tree', id, { signal });
    const node = decodeTree(bytes, `tree ${id}`);
    this.cache.set(id, node);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return node;
  }

  /**
   * Every entry of the directory `id`, in name order, across pages. Checks that pages
   * agree with their index (first name, count, order), so a hostile index cannot
   * reorder, duplicate or hide entries.
   */
  async *entries(id: ObjectId, signal?: AbortSignal): AsyncGenerator<Entry> {
    let previous: string | undefined;
    for await (const entry of this.walk(id, 0, undefined, signal)) {
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
  ): AsyncGenerator<Entry> {
    if (depth > MAX_INDEX_DEPTH) throw new FormatError(`tree ${id}`, 'index nested too deeply');
    const node = await this.node(id, signal);
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
    for (const page of node.pages) yield* this.walk(page.tree, depth + 1, page, signal);
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
