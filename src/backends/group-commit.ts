/**
 * A group-commit queue for one LocalDirectWriter: producers (chunk jobs, single object
 * puts) hand in temporary files already written; the queue publishes them in batches
 * (`publishAll`: one shared `syncfs`, the links, one more `syncfs`) and resolves each
 * hand-in once its objects have durable names.
 *
 * Why a queue: a `syncfs` costs about 10 ms here whatever it flushes, an fsync per
 * object 0.3-0.5 ms, so durability is cheap only in large batches; and a producer that
 * waited for its own batch would leave the core idle for those milliseconds. Producers
 * go on writing the next batch while one commits; they wait (`room`) only when a full
 * batch is queued behind the one committing, which bounds the unpublished bytes. While
 * one batch commits the next one fills, so a fast producer's batches grow toward the
 * limits by themselves.
 *
 * A batch is committed when it is full (bytes or objects), when `flush` asks, or at
 * most `maxDelayMs` after its first object was handed in (so a file whose chunks are
 * mostly stored already, which hands in windows with one new chunk now and then, is
 * not held up waiting for a batch to fill). Batches commit one at a time, in order, so
 * a hand-in resolves only after everything handed in before it: a producer that
 * skipped writing an object because an earlier hand-in holds it may rely on that. An
 * empty hand-in with nothing queued or committing before it resolves at once.
 *
 * A failed commit fails every later hand-in too (sticky): an object skipped as "being
 * written" must never be reported stored when its batch failed.
 */
import type { LocalDirectWriter, PendingObject } from './local-direct.js';

/** Limits of one batch. */
export interface GroupCommitOptions {
  /** Bytes of objects per batch (default 32 MiB). */
  maxBytes?: number;
  /** Objects per batch (default 8192: the links and unlinks of a batch take a while). */
  maxObjects?: number;
  /** Longest wait, in milliseconds, of a queued object for its batch to start (default 50). */
  maxDelayMs?: number;
}

interface HandIn {
  pending: PendingObject[];
  bytes: number;
  resolve: (written: boolean[]) => void;
  reject: (err: unknown) => void;
}

/** See the module comment. */
export class GroupCommit {
  private queue: HandIn[] = [];
  private queuedBytes = 0;
  private queuedObjects = 0;
  private committing: Promise<void> | undefined;
  private flushWanted = false;
  private failure: unknown;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxBytes: number;
  private readonly maxObjects: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly writer: LocalDirectWriter,
    options: GroupCommitOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.maxObjects = options.maxObjects ?? 8192;
    this.maxDelayMs = options.maxDelayMs ?? 50;
  }

  /**
   * Queues temporary files (from `writer.writeTemps`; `bytes` is their total size) for
   * publishing; resolves, per object, whether it was written (false: it existed), once
   * their names and everything handed in before are durable. An empty hand-in is a
   * barrier: it resolves after everything handed in before it.
   */
  add(pending: PendingObject[], bytes: number): Promise<boolean[]> {
    if (this.failure !== undefined) {
      this.writer.discard(pending);
      return Promise.reject(this.failure);
    }
    if (pending.length === 0 && this.queue.length === 0 && !this.committing) {
      return Promise.resolve([]);
    }
    const done = new Promise<boolean[]>((resolve, reject) => {
      this.queue.push({ pending, bytes, resolve, reject });
    });
    this.queuedBytes += bytes;
    this.queuedObjects += pending.length;
    if (this.full) this.start();
    else this.arm();
    return done;
  }

  /**
   * Undefined when the producer may go on, else a promise to wait for first: a full
   * batch is already queued behind the one being committed.
   */
  room(): Promise<void> | undefined {
    if (!this.full || !this.committing) return undefined;
    return this.committing;
  }

  /** Commits what is queued as soon as possible (the producer has nothing more for now). */
  flush(): void {
    if (this.queue.length === 0) return;
    this.flushWanted = true;
    this.start();
  }

  /**
   * Gives up (the backup was stopped): the temporary files queued are removed and their
   * hand-ins fail with `reason`, as every later one will; resolves once a commit under
   * way has finished, which removes its own. Nothing of the queue is left on disk.
   */
  async abandon(reason: unknown): Promise<void> {
    this.failure ??= reason;
    const queued = this.takeQueue();
    this.writer.discard(queued.flatMap((h) => h.pending));
    for (const h of queued) h.reject(reason);
    while (this.committing) await this.committing;
  }

  /** Resolves once everything handed in so far is published (or has failed). */
  async drain(): Promise<void> {
    this.flush();
    while (this.committing) await this.committing;
  }

  private get full(): boolean {
    return this.queuedBytes >= this.maxBytes || this.queuedObjects >= this.maxObjects;
  }

  /** Starts the delay timer of the queued batch, unless it runs already. */
  private arm(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.maxDelayMs);
  }

  /** The queued hand-ins, leaving the queue empty and its timer stopped. */
  private takeQueue(): HandIn[] {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.queuedObjects = 0;
    return queued;
  }

  private start(): void {
    if (this.committing || this.queue.length === 0) return;
    const batch = this.takeQueue();
    this.flushWanted = false;
    this.committing = this.commit(batch).finally(() => {
      this.committing = undefined;
      // What arrived meanwhile goes next if it is due; else it waits to fill up.
      if (this.full || this.flushWanted || this.failure !== undefined) this.start();
      else if (this.queue.length > 0) this.arm();
    });
  }

  private async commit(batch: HandIn[]): Promise<void> {
    const all = batch.flatMap((h) => h.pending);
    if (this.failure !== undefined) {
      this.writer.discard(all);
      for (const h of batch) h.reject(this.failure);
      return;
    }
    let written: boolean[];
    try {
      written = await this.writer.publishAll(all);
    } catch (err) {
      this.failure = err;
      for (const h of batch) h.reject(err);
      return;
    }
    let at = 0;
    for (const h of batch) {
      h.resolve(written.slice(at, at + h.pending.length));
      at += h.pending.length;
    }
  }
}
