/**
 * The tree work of `repair snapshots` (repair.ts runs it): writing directories again
 * without what cannot be restored, and finding every stored tree node that leads to
 * damage, so that it can be deleted.
 *
 * A node leads to damage when something below it cannot be read: a file with a chunk
 * missing or damaged, a node missing or corrupt. That is a fact of its content (its id),
 * whoever references it, so a node that leads to damage is damaged for every record;
 * nodes that do not are never counted, whatever happened around them.
 */

import type { CallOptions } from '../backends/backend.js';
import { throwIfAborted } from '../core/abort.js';
import { CairnError, hasCode } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { forEachConcurrent } from '../core/limit.js';
import type { FileEntry, PageRef, TreeNode } from '../manifest/types.js';
import { type BlobPutOptions, BlobStore, type PutResult } from '../repo/blob-store.js';
import type { DiskSet } from '../repo/disk-set.js';
import type { ExternalSortSet } from '../repo/external-sort-set.js';
import type { BlobKind } from '../repo/layout.js';
import { LruMap } from '../repo/lru.js';
import type { Repository } from '../repo/repository.js';
import { type LostNode, misfitOf, TreeReader } from '../repo/tree-store.js';
import { isDamage } from './replacement.js';

/** Subtrees whose outcome is remembered across snapshots. */
const MEMO_ENTRIES = 50_000;
/** Data blobs read at once with `readData`. */
const READ_CONCURRENCY = 8;
/** Chunks of one file gathered before they are read (`readData`). */
const READ_BATCH = 1024;

/** What a snapshot lost in its repair. */
export interface LostCounts {
  /** Regular files removed: damaged ones, and those below directories emptied (as their entries counted them). */
  files: number;
  /** Their bytes. */
  bytes: number;
  /** Tree nodes that could not be read: directories emptied, pages of directories. */
  trees: number;
  /** Entries of lost pages (as their index counted them). */
  entries: number;
}

/** The outcome for one directory: what is in it once repaired, and what it lost. */
export interface DirOutcome {
  /** Its tree after the repair (the same id when nothing below it changed). */
  tree: ObjectId;
  changed: boolean;
  /** Regular files, bytes and directories below it, at any depth, after the repair. */
  files: number;
  bytes: number;
  dirs: number;
  lost: LostCounts;
  /** Its own node could not be read: it is empty now. */
  emptied: boolean;
}

export interface RepairerOptions {
  /** Data blobs stored (not counting `broken`). */
  stored: ExternalSortSet;
  /** Data blobs found damaged, with why; `readData` adds to it. */
  broken: Map<ObjectId, string>;
  /** Data blobs read with `readData`: 1 good, 0 damaged. */
  verdicts: DiskSet;
  /** Tree nodes the walk read and kept (a misfit is not: it is judged on its own). */
  visited: DiskSet;
  /** Verdicts of `leads` on nodes the walk did not keep: 1 leads to damage, 0 not. */
  judged: DiskSet;
  readData: boolean;
  dryRun: boolean;
  memo: boolean;
  onTree: () => void;
  signal?: AbortSignal;
}

/** Writes directories again without what cannot be restored; notes the nodes that lead to damage. */
export class TreeRepairer {
  onDamaged: ((path: string, kind: 'file' | 'tree', message: string) => void) | undefined;
  /** Referenced data blobs found missing (each counted once). */
  missing = 0;
  blobsRead = 0;
  private readonly missingSeen = new Set<ObjectId>();
  /**
   * Readable tree nodes that lead to damage, children before parents (a node is noted
   * once the nodes below it are judged).
   */
  private readonly tainted = new Set<ObjectId>();
  /** Tree nodes that fail their hash or do not decode. */
  readonly corrupt = new Set<ObjectId>();
  /**
   * Lost nodes the repair wrote again as they were (an empty directory's node: every
   * empty directory shares it): nothing was lost by them.
   */
  readonly restored = new Set<ObjectId>();
  /** Tree nodes found missing or corrupt by this run (see `writtenAgain`). */
  private readonly lostFound = new Set<ObjectId>();
  private readonly memo: LruMap<ObjectId, DirOutcome> | undefined;
  private readonly reader: TreeReader;
  private readonly writeStore: RecordingStore;
  private readonly readStore: SecondReadStore;

  constructor(
    private readonly repo: Repository,
    private readonly options: RepairerOptions,
  ) {
    // Fresh readers: what is damaged must be read from the backend, not from caches.
    this.readStore = new SecondReadStore(repo.backend, { codec: repo.codec });
    this.reader = TreeReader.forSingleWalk(this.readStore);
    // Every node written is written, whatever is stored under its id: a corrupt node
    // of that id (a repaired directory can equal one elsewhere), or a lost one an
    // inventory still lists, is replaced. A dry run's store writes nothing but gives the
    // ids a run would write, so a repair written before is found in a dry run too.
    this.writeStore = new RecordingStore(repo.backend, {
      codec: repo.codec,
      dryRun: options.dryRun,
      overwrite: true,
    });
    this.memo = options.memo ? new LruMap(MEMO_ENTRIES) : undefined;
  }

  /** How many tree nodes lead to damage (those `taintedParentsFirst` gives). */
  get taintedCount(): number {
    let count = 0;
    for (const id of this.tainted) if (!this.writeStore.written.has(id)) count++;
    return count;
  }

  /**
   * The tree nodes that lead to damage, each before every one it references. A node
   * this run wrote is left out, whatever was judged of it: a new record may reference it.
   */
  taintedParentsFirst(): ObjectId[] {
    return [...this.tainted].reverse().filter((id) => !this.writeStore.written.has(id));
  }

  /**
   * Tree nodes this walk found lost and then wrote again (a repaired directory equals a
   * node lost elsewhere), other than the empty directory's. What was judged before the
   * write saw them lost, what after, stored: the outcomes disagree with the repository
   * as it now is, and a walk again, which finds them stored, does better.
   */
  writtenAgain(): ObjectId[] {
    return [...this.lostFound].filter(
      (id) => this.writeStore.written.has(id) && !this.restored.has(id),
    );
  }

  /** Directory `tree` at `path` (snapshot form, `` for the root), repaired. */
  async directory(tree: ObjectId, path: string): Promise<DirOutcome> {
    const known = this.memo?.get(tree);
    if (known) return known;
    const outcome = await this.repair(tree, path);
    this.memo?.set(tree, outcome);
    return outcome;
  }

  /**
   * Judges a stored node the walk did not keep (found in a listing of `tree/`: a
   * forgotten snapshot's, a killed backup's, or one a repair stopped before deleting):
   * notes it, and what below it leads to damage.
   */
  async judgeUnreached(id: ObjectId): Promise<void> {
    await this.leads(id);
  }

  private async repair(tree: ObjectId, path: string): Promise<DirOutcome> {
    const { signal } = this.options;
    const lost = noLoss();
    let emptied = false;
    // What the first pass lost and how many entries it met: the second must agree.
    const lostNodes = new Set<ObjectId>();
    let met = 0;
    const empty = await this.emptyTree();
    let emptyLost = false;
    const onLost = (node: ObjectId, entries: number | undefined, how: LostNode, err: Error) => {
      if (entries === undefined && node === empty) {
        emptyLost = true; // an empty directory lost nothing: its node is written again below
        return;
      }
      lostNodes.add(node);
      lost.trees++;
      if (how !== 'misfit') this.lostFound.add(node);
      if (how === 'corrupt') this.corrupt.add(node);
      if (entries === undefined) emptied = true;
      else lost.entries += entries;
      const what = entries === undefined ? 'listing lost' : `${entries} entries lost`;
      this.onDamaged?.(path, 'tree', `${what}: ${describe(err, 'tree', node)}`);
    };
    // The nodes of this directory the walk kept. They count as visited only once its
    // taint has run: until then a node kept here may still be noted, and `leads`, asked
    // meanwhile (by a subdirectory's taint), must judge it on its content.
    const keptHere: ObjectId[] = [];
    const kept = (node: ObjectId) => {
      keptHere.push(node);
    };
    // First pass: what goes, and the subdirectories that change.
    const removed = new Set<string>();
    const changedDirs = new Map<string, DirOutcome>();
    // What is left below it (the second pass writes the same).
    let dirs = 0;
    let files = 0;
    let bytes = 0;
    this.options.onTree();
    for await (const entry of this.reader.salvage(tree, onLost, signal, kept)) {
      throwIfAborted(signal);
      met++;
      const at = path === '' ? entry.name : `${path}/${entry.name}`;
      if (entry.kind === 'file') {
        const damage = await this.fileDamage(entry);
        if (damage === undefined) {
          files++;
          bytes += entry.size;
          continue;
        }
        removed.add(entry.name);
        lost.files++;
        lost.bytes += entry.size;
        this.onDamaged?.(at, 'file', damage);
      } else if (entry.kind === 'dir') {
        const sub = await this.directory(entry.tree, at);
        dirs += 1 + sub.dirs;
        files += sub.files;
        bytes += sub.bytes;
        if (!sub.changed) continue;
        changedDirs.set(entry.name, sub);
        addLost(lost, sub.lost);
        // An emptied directory's files were counted by its entry, not by its walk.
        if (sub.emptied) {
          lost.files += entry.files;
          lost.bytes += entry.bytes;
        }
      }
    }
    if (emptyLost) await this.restoreEmpty();
    if (lost.trees === 0 && removed.size === 0 && changedDirs.size === 0) {
      await this.noteVisited(keptHere, path);
      return { tree, changed: false, files, bytes, dirs, lost, emptied: false };
    }
    const damagedNames = new Set([...removed, ...changedDirs.keys()]);
    await this.taint(tree, damagedNames, undefined, 0, { previous: undefined, met: new Set() });
    await this.noteVisited(keptHere);
    // Second pass: the directory without what goes (salvage again). A node read in the
    // first pass may be read again (it left the cache): should the reads disagree, the
    // record would not say what its tree holds, so the run stops before deleting anything.
    const differs = (what: string) =>
      new CairnError(
        'io',
        `directory ${path === '' ? '/' : path} (tree ${tree}) read differently the second time (${what}): nothing was deleted; run the repair again`,
      );
    const onLostAgain = (
      node: ObjectId,
      _entries: number | undefined,
      _how: LostNode,
      err: Error,
    ) => {
      if (!lostNodes.has(node)) throw differs(`tree ${node}: ${err.message}`);
    };
    let metAgain = 0;
    const writer = this.repo.directoryWriter(this.writeStore);
    for await (const entry of this.reader.salvage(tree, onLostAgain, signal)) {
      metAgain++;
      if (removed.has(entry.name)) continue;
      const sub = entry.kind === 'dir' ? changedDirs.get(entry.name) : undefined;
      await writer.add(
        sub && entry.kind === 'dir'
          ? { ...entry, tree: sub.tree, files: sub.files, bytes: sub.bytes }
          : entry,
      );
    }
    if (metAgain !== met) throw differs(`${met} entries, then ${metAgain}`);
    const written = (await writer.finish()).tree;
    if (written === tree) {
      // Written again as it was: what was lost is stored again, and nothing above it
      // changes (a guard: the node every empty directory shares is restored above, and
      // any other loss changes what is written). Its nodes are this run's writes, which
      // are never deleted.
      for (const node of lostNodes) if (this.writeStore.written.has(node)) this.restored.add(node);
      return { tree, changed: false, files, bytes, dirs, lost: noLoss(), emptied: false };
    }
    return { tree: written, changed: true, files, bytes, dirs, lost, emptied };
  }

  /**
   * Notes the nodes a directory's walk kept as visited. With `whole` (the path of a
   * directory found whole), none of them may have been noted as leading to damage:
   * one that was, found whole now, was judged while something below it was lost that
   * the repair has since written again (a repaired directory can equal a node lost
   * elsewhere: the repair writes over what is stored under its ids), or read wrong. A
   * snapshot that reaches it is left as it is, so deleting it would break that
   * snapshot. A walk that wrote a lost node again is walked again anyway (see
   * `writtenAgain`); otherwise a read went wrong, and the run stops before deleting.
   */
  private async noteVisited(nodes: readonly ObjectId[], whole?: string): Promise<void> {
    for (const node of nodes) {
      if (whole !== undefined && this.tainted.has(node) && this.writtenAgain().length === 0) {
        throw new CairnError(
          'io',
          `tree ${node} (in ${whole === '' ? '/' : whole}) was found to lead to damage, then whole: a read went wrong; nothing was deleted; run the repair again`,
        );
      }
      await this.options.visited.add(node);
    }
  }

  private emptyId: ObjectId | undefined;

  /** The id of an empty directory's node, which every empty directory shares. */
  private async emptyTree(): Promise<ObjectId> {
    if (this.emptyId === undefined) {
      const idsOnly = new BlobStore(this.repo.backend, { codec: this.repo.codec, dryRun: true });
      this.emptyId = (await this.repo.directoryWriter(idsOnly).finish()).tree;
    }
    return this.emptyId;
  }

  /** Writes the empty directory's node again (lost or corrupt): nothing was lost by it. */
  private async restoreEmpty(): Promise<void> {
    if (this.restored.has(await this.emptyTree())) return;
    this.restored.add((await this.repo.directoryWriter(this.writeStore).finish()).tree);
  }

  /** Node `id`, or undefined when it is missing or corrupt (a corrupt one is noted). */
  private async readNode(id: ObjectId): Promise<TreeNode | undefined> {
    try {
      return await this.reader.node(id, this.options.signal);
    } catch (err) {
      if (!isDamage(err)) throw err;
      this.lostFound.add(id);
      if (!hasCode(err, 'not-found')) this.corrupt.add(id);
      return undefined;
    }
  }

  /**
   * Notes the nodes of directory node `id` that lead to damage: a page holding one of
   * `damaged` (names of entries removed, or of subdirectories that changed), an index
   * node above such a page or above a node that cannot be read or does not fit it.
   * True when `id` leads to damage where the walk read it (`depth`, the index entry
   * `expect` that references it, the last name `order.previous` kept before it), or is
   * lost itself. A node that does not fit its index entry may be another directory's
   * sound node: it is not noted, its index is.
   */
  private async taint(
    id: ObjectId,
    damaged: ReadonlySet<string>,
    expect: PageRef | undefined,
    depth: number,
    order: { previous: string | undefined; met: Set<ObjectId> },
  ): Promise<boolean> {
    // Judged as the walk judged it (salvage): met once, where it stands, and the order
    // across pages.
    if (order.met.has(id)) return true;
    order.met.add(id);
    const node = await this.readNode(id);
    if (node === undefined) return true;
    if (misfitOf(id, node, depth, expect, order.previous)) {
      // It may be another directory's sound node, or lead to damage on its content:
      // judged so now, before the node above it is noted (parents are deleted first).
      await this.leads(id);
      return true;
    }
    if (node.kind === 'leaf') {
      // The walk read its entries: a damaged name here is damage of its content.
      const leads = node.entries.some((e) => damaged.has(e.name));
      if (node.entries.length > 0) order.previous = node.entries.at(-1)!.name;
      if (leads) this.tainted.add(id);
      return leads;
    }
    const directoryOwn = depth === 0 && order.previous === undefined;
    let leads = false;
    for (const page of node.pages) {
      if (await this.taint(page.tree, damaged, page, depth + 1, order)) leads = true;
    }
    if (!leads) return false;
    if (directoryOwn) this.tainted.add(id);
    // An index node inside the directory may lead to damage only where it stands (a
    // page overlapping one outside it, nesting too deep from there) and be sound, and
    // another directory's, on its own: it is judged on its content, as a node no
    // snapshot reaches is (its pages are judged already, or on their content).
    else await this.leads(id, true);
    return true;
  }

  /**
   * True when node `id`, judged on its own, leads to damage (noting it, and the nodes
   * below it that do). A node the walk kept leads to damage exactly when the walk noted
   * it (unless `evenIfKept`: an index node `taint` asks about); a missing or corrupt one
   * does, except the node every empty directory shares, which is written again.
   */
  private async leads(id: ObjectId, evenIfKept = false): Promise<boolean> {
    if (this.tainted.has(id)) return true;
    if (!evenIfKept && (await this.options.visited.has(id))) return false;
    const known = await this.options.judged.get(id);
    if (known !== undefined) return known === 1;
    throwIfAborted(this.options.signal);
    const node = await this.readNode(id);
    if (node === undefined && id === (await this.emptyTree())) {
      this.corrupt.delete(id);
      await this.restoreEmpty();
      await this.options.judged.add(id, 0);
      return false;
    }
    if (node === undefined) return true;
    let leads = false;
    if (node.kind === 'leaf') {
      for (const e of node.entries) {
        if (e.kind === 'file' && (await this.fileDamage(e)) !== undefined) leads = true;
        else if (e.kind === 'dir' && (await this.leads(e.tree))) leads = true;
      }
    } else {
      // Its pages must fit it as a walk from it checks them (counts, first names, order
      // across pages, nesting counted from it): read through once for that. Then each
      // page is judged on its own, as if it were a directory's node: a verdict is kept
      // by id, so it must not depend on where the page stands.
      const onLost = () => {
        leads = true;
      };
      for await (const _entry of this.reader.salvage(id, onLost, this.options.signal)) {
        // only the fit is wanted, not the entries
      }
      for (const page of node.pages) if (await this.leads(page.tree)) leads = true;
    }
    await this.options.judged.add(id, leads ? 1 : 0);
    if (leads) this.tainted.add(id);
    return leads;
  }

  /** Why `entry` cannot be restored, or undefined when every chunk of it is there (and sound). */
  private async fileDamage(entry: FileEntry): Promise<string | undefined> {
    const { stored, broken, readData } = this.options;
    let damage: string | undefined;
    for (const { id } of entry.chunks) {
      const why = broken.get(id);
      if (why !== undefined) {
        damage ??= why;
        continue;
      }
      if (!(await stored.has(id))) {
        if (!this.missingSeen.has(id)) {
          this.missingSeen.add(id);
          this.missing++;
        }
        damage ??= `data blob ${id} is missing`;
      }
    }
    if (!readData) return damage;
    // Every stored chunk is read, also of a file already found damaged: a corrupt chunk
    // left stored would be taken for sound by the next backup that needs it.
    await this.readChunks(entry);
    if (damage !== undefined) return damage;
    for (const { id } of entry.chunks) {
      const why = broken.get(id);
      if (why !== undefined) return why;
    }
    return undefined;
  }

  /**
   * Reads and verifies each stored chunk of `entry` not read before (`readData`), in
   * batches: a file of a million chunks holds no list of them all.
   */
  private async readChunks(entry: FileEntry): Promise<void> {
    const { stored, broken, verdicts } = this.options;
    let batch = new Set<ObjectId>();
    for (const { id } of entry.chunks) {
      if (broken.has(id) || batch.has(id)) continue;
      if ((await verdicts.get(id)) !== undefined || !(await stored.has(id))) continue;
      batch.add(id);
      if (batch.size >= READ_BATCH) {
        await this.readBatch(batch);
        batch = new Set();
      }
    }
    await this.readBatch(batch);
  }

  /** Reads and verifies `ids`, noting a verdict for each. */
  private async readBatch(ids: ReadonlySet<ObjectId>): Promise<void> {
    const { broken, verdicts } = this.options;
    await forEachConcurrent(ids, READ_CONCURRENCY, async (id) => {
      const failure = await this.readFails(id);
      this.blobsRead++;
      if (failure === undefined) await verdicts.add(id, 1);
      else {
        broken.set(id, describe(failure, 'data blob', id));
        await verdicts.add(id, 0);
      }
    });
  }

  /**
   * Why data blob `id` cannot be read, or undefined when it verifies (read twice before
   * it counts, see SecondReadStore).
   */
  private async readFails(id: ObjectId): Promise<Error | undefined> {
    try {
      await this.readStore.get(
        'data',
        id,
        this.options.signal ? { signal: this.options.signal } : {},
      );
      return undefined;
    } catch (err) {
      if (!isDamage(err)) throw err;
      return err as Error;
    }
  }
}

/**
 * A blob store whose reads that fail as damage are made a second time before the
 * failure counts: repair leaves out and deletes what it finds damaged, and a read that
 * went wrong once (a flipped bit in transit or in memory) must not cost a sound node or
 * blob. Its reads go to the backend, never to a cache.
 */
export class SecondReadStore extends BlobStore {
  override async get(kind: BlobKind, id: ObjectId, options?: CallOptions): Promise<Uint8Array> {
    try {
      return await super.get(kind, id, options);
    } catch (err) {
      if (!isDamage(err)) throw err;
      return super.get(kind, id, options);
    }
  }
}

/** A blob store that remembers the tree nodes written through it (or, dry, that would be). */
class RecordingStore extends BlobStore {
  readonly written = new Set<ObjectId>();

  override async put(
    kind: BlobKind,
    plaintext: Uint8Array,
    options?: BlobPutOptions,
  ): Promise<PutResult> {
    const result = await super.put(kind, plaintext, options);
    if (kind === 'tree') this.written.add(result.id);
    return result;
  }

  override putDeferred(
    kind: BlobKind,
    plaintext: Uint8Array,
    after?: Promise<unknown>,
    options?: Pick<BlobPutOptions, 'movable'>,
  ): { id: ObjectId; stored: Promise<PutResult> } {
    const result = super.putDeferred(kind, plaintext, after, options);
    if (kind === 'tree') this.written.add(result.id);
    return result;
  }
}

function noLoss(): LostCounts {
  return { files: 0, bytes: 0, trees: 0, entries: 0 };
}

/** Why the object `kind id` cannot be read, naming it. */
export function describe(err: Error, kind: string, id: ObjectId): string {
  if (hasCode(err, 'not-found')) return `${kind} ${id} is missing`;
  return err.message.includes(id) ? err.message : `${kind} ${id}: ${err.message}`;
}

function addLost(into: LostCounts, more: LostCounts): void {
  into.files += more.files;
  into.bytes += more.bytes;
  into.trees += more.trees;
  into.entries += more.entries;
}
