/**
 * The tree copier behind `sync`: makes one tree (a directory node and everything below
 * it) present in the destination, copying only what is missing.
 *
 * It relies on the writer invariant of every cairn repository: a tree node is stored
 * only after everything it references (data blobs, child nodes) is stored, and the
 * snapshot record last (backup writes bottom-up, and so does this copier). Hence a tree
 * node the destination already has stands for its whole subtree, which is skipped
 * without being read. A node that is missing is read from the source (verified), its
 * children are made present first, and the node is written after them.
 *
 * Memory stays bounded whatever the repository size: a node is held only while its
 * children are processed, work per node goes through a bounded window, subtrees are
 * walked concurrently only while a fixed number of walk tokens lasts (otherwise in
 * line), and "already copied" is remembered in bounded LRUs, never in a set of ids.
 */
import { throwIfAborted } from '../core/abort.js';
import { FormatError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { Semaphore } from '../core/limit.js';
import { decodeTree } from '../manifest/tree-codec.js';
import type { Entry } from '../manifest/types.js';
import type { BlobStore } from '../repo/blob-store.js';
import type { BlobKind } from '../repo/layout.js';
import { LruMap } from '../repo/lru.js';
import { MAX_INDEX_DEPTH } from '../repo/tree-store.js';
import type { SyncCounts } from './events.js';

/** What the copier needs. */
export interface CopierOptions {
  /** Where blobs are read from (verified on read). */
  source: BlobStore;
  /** Where missing blobs are written. */
  destination: BlobStore;
  /** Count what would be sent, write nothing. */
  dryRun: boolean;
  /** Blob copies (read + write) in flight at once. */
  transfers: number;
  /** Existence checks against the destination in flight at once. */
  checkers: number;
  signal: AbortSignal | undefined;
  /** Called after each change of the counters. */
  onProgress: () => void;
}

/** Remembered "present in the destination" keys, beyond the blob store's own cache. */
const DRY_RUN_MEMORY = 100_000;

/** Makes trees present in a destination repository; see the module comment. */
export class TreeCopier {
  readonly counts: SyncCounts & { dataBlobsSent: number; treeBlobsSent: number } = {
    blobsSent: 0,
    bytesSent: 0,
    blobsSkipped: 0,
    bytesSkipped: 0,
    dataBlobsSent: 0,
    treeBlobsSent: 0,
  };
  /**
   * File content dealt with so far, for progress: chunks sent or found present, inline
   * files, and subtrees found present (their recorded bytes). Content reached only
   * through a present page of a directory split into pages is not counted (pages
   * record no bytes), nor is a second copy of a subtree or chunk met while the first
   * is in flight until that one is done.
   */
  contentBytes = 0;
  private readonly transfers: Semaphore;
  private readonly checks: Semaphore;
  /** Concurrent subtree walks still allowed; at zero, subtrees are walked in line. */
  private walkTokens: number;
  /** Most pending child tasks per node before the oldest is awaited. */
  private readonly window: number;
  /** Blobs being made present right now, so concurrent walks share the work. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Dry run: what would have been sent, so it is counted once. */
  private readonly wouldSend = new LruMap<string, true>(DRY_RUN_MEMORY);
  /** A miss of the destination's inventory means "absent" (it is fresh). */
  private trustMisses = false;

  constructor(private readonly o: CopierOptions) {
    this.transfers = new Semaphore(o.transfers);
    this.checks = new Semaphore(o.checkers);
    this.walkTokens = o.checkers;
    this.window = 4 * (o.transfers + o.checkers);
  }

  /** Prepares the destination's inventory (one listing when it is empty or stale). */
  async start(): Promise<void> {
    this.trustMisses = await this.o.destination.inventoryFresh(this.o.signal);
  }

  /**
   * Makes tree `id` and its whole subtree present in the destination. `contentBytes`
   * is the file content below it, when known (counted as skipped if it is present).
   */
  ensureTree(id: ObjectId, contentBytes = 0, indexDepth = 0): Promise<void> {
    return this.once(
      `tree/${id}`,
      () => this.copyTree(id, contentBytes, indexDepth),
      () => this.content(contentBytes),
    );
  }

  private async copyTree(id: ObjectId, contentBytes: number, indexDepth: number): Promise<void> {
    if (indexDepth > MAX_INDEX_DEPTH) {
      throw new FormatError(`tree ${id}`, 'index nested too deeply');
    }
    if (await this.present('tree', id, false)) {
      this.skipped(contentBytes);
      return;
    }
    const { signal } = this.o;
    const plaintext = await this.transfers.run(() => this.o.source.get('tree', id, { signal }));
    const node = decodeTree(plaintext, `tree ${id}`);
    const pending = new TaskWindow(this.window);
    try {
      if (node.kind === 'index') {
        for (const page of node.pages) {
          await this.subtree(pending, () => this.ensureTree(page.tree, 0, indexDepth + 1));
        }
      } else {
        for (const entry of node.entries) await this.entry(pending, entry);
      }
      await pending.drain();
    } catch (err) {
      await pending.settle();
      throw err;
    }
    // Every child is stored: now the node itself may be.
    await this.send('tree', id, plaintext);
  }

  private async entry(pending: TaskWindow, entry: Entry): Promise<void> {
    throwIfAborted(this.o.signal);
    if (entry.kind === 'file') {
      if (entry.chunks.length === 0) this.content(entry.size);
      for (const chunk of entry.chunks) {
        await pending.add(this.ensureData(chunk.id, chunk.size));
      }
    } else if (entry.kind === 'dir') {
      await this.subtree(pending, () => this.ensureTree(entry.tree, entry.bytes, 0));
    }
  }

  /** Walks a subtree concurrently while walk tokens last, else in line. */
  private async subtree(pending: TaskWindow, walk: () => Promise<void>): Promise<void> {
    if (this.walkTokens > 0) {
      this.walkTokens--;
      await pending.add(
        walk().finally(() => {
          this.walkTokens++;
        }),
      );
    } else {
      await walk();
    }
  }

  /** Makes data blob `id` (`size` bytes of content) present in the destination. */
  private ensureData(id: ObjectId, size: number): Promise<void> {
    return this.once(
      `data/${id}`,
      async () => {
        if (await this.present('data', id, this.trustMisses)) {
          this.skipped(size);
          return;
        }
        if (this.o.dryRun) {
          this.wouldSend.set(`data/${id}`, true);
          this.sent('data', this.o.destination.codec.storedSize(size), size);
          return;
        }
        const { signal } = this.o;
        await this.transfers.run(async () => {
          const plaintext = await this.o.source.get('data', id, { signal });
          const result = await this.o.destination.put('data', plaintext, {
            signal,
            knownMissing: true,
          });
          // Not added: another client stored it since we looked.
          if (result.added) this.sent('data', result.storedBytes, size);
          else this.skipped(size);
        });
      },
      () => this.content(size),
    );
  }

  /** Writes a tree node (after its children). */
  private async send(kind: BlobKind, id: ObjectId, plaintext: Uint8Array): Promise<void> {
    if (this.o.dryRun) {
      this.wouldSend.set(`${kind}/${id}`, true);
      // The node is at hand: its stored size is exact (compressed, encrypted as written).
      this.sent(kind, (await this.o.destination.codec.seal(plaintext)).length);
      return;
    }
    const { signal } = this.o;
    const result = await this.transfers.run(() =>
      this.o.destination.put(kind, plaintext, { signal, knownMissing: true }),
    );
    if (result.added) this.sent(kind, result.storedBytes);
    else this.counts.blobsSkipped++;
  }

  /** Counts file content dealt with outside a blob sent or skipped (see contentBytes). */
  private content(bytes: number): void {
    if (bytes === 0) return;
    this.contentBytes += bytes;
    this.o.onProgress();
  }

  /**
   * Whether the destination has a blob. Known (this process, inventory) costs nothing;
   * otherwise a miss is trusted when `trustMiss`, else confirmed with a `stat`.
   */
  private async present(kind: BlobKind, id: ObjectId, trustMiss: boolean): Promise<boolean> {
    const { signal } = this.o;
    if (await this.o.destination.isKnown(kind, id, { signal })) return true;
    if (this.o.dryRun && this.wouldSend.has(`${kind}/${id}`)) return true;
    if (trustMiss) return false;
    return this.checks.run(() => this.o.destination.has(kind, id, { signal }));
  }

  /**
   * Runs `work` once per key at a time; concurrent callers share the same promise, and
   * `joined` runs for each of them once it is fulfilled (their share of the progress).
   */
  private once(key: string, work: () => Promise<void>, joined: () => void): Promise<void> {
    const running = this.inFlight.get(key);
    if (running) return running.then(joined);
    const p = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  /** Counts a blob sent: `bytes` as stored, `contentBytes` of file content in it. */
  private sent(kind: BlobKind, bytes: number, contentBytes = 0): void {
    this.counts.blobsSent++;
    this.counts.bytesSent += bytes;
    this.contentBytes += contentBytes;
    if (kind === 'data') this.counts.dataBlobsSent++;
    else this.counts.treeBlobsSent++;
    this.o.onProgress();
  }

  private skipped(contentBytes: number): void {
    this.counts.blobsSkipped++;
    this.counts.bytesSkipped += contentBytes;
    this.contentBytes += contentBytes;
    this.o.onProgress();
  }
}

/**
 * The child tasks of one node: at most `size` pending; adding more first waits for the
 * oldest. `drain` waits for all and rethrows the first failure; `settle` waits for all
 * and ignores failures (cleanup after an error, so nothing is written after we return).
 */
class TaskWindow {
  private readonly tasks: Array<Promise<void>> = [];

  constructor(private readonly size: number) {}

  async add(task: Promise<void>): Promise<void> {
    // Rejections are handled when the task is awaited (drain/settle).
    task.catch(() => {});
    this.tasks.push(task);
    if (this.tasks.length > this.size) await this.tasks.shift();
  }

  async drain(): Promise<void> {
    while (this.tasks.length > 0) await this.tasks.shift();
  }

  async settle(): Promise<void> {
    await Promise.allSettled(this.tasks.splice(0));
  }
}
