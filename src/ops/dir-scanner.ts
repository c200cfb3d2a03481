/**
 * Scanning directories ahead of the backup walk, on a worker thread. The walk asks for
 * a directory's scan (dir-scan.ts: sorted names and every child's lstat) when it enters
 * the directory, and names the subdirectories it will enter next as soon as it knows
 * them; the scan thread works through those meanwhile, so the walk's thread rarely
 * waits and never spends its time in `readdir` and `lstat`.
 *
 * With 100,000 unchanged files (a no-change backup), scanning is about 0.9 s of CPU and
 * the walk's own work 0.7 s: the scan thread sets the pace. (Letting the walk scan the
 * next directory itself whenever the one it needs was not there yet made it scan most
 * of them: it entered up to 16 directories at once then, and was slower.)
 *
 * The thread starts when the walk first names directories ahead: a backup of one flat
 * directory (the 2 GiB bench corpus) never starts it. Until it says it is ready (it takes
 * 50-100 ms to load), nothing is sent to it and the walk scans for itself, so a small
 * tree is not held up by the start.
 *
 * A scan is a hint, never required: `take` gives undefined when there is none (the scan
 * thread failed, or the directory could not be listed there), and the walk then lists
 * and lstats the directory itself, as it would without a scanner. Scans ahead are
 * bounded (SCANS_AHEAD directories); one that the walk never takes (a directory that
 * vanished, say) is dropped once it is the oldest and room is needed.
 */
import type { Worker } from 'node:worker_threads';
import { compiledWorker, startWorker } from '../core/worker-thread.js';
import type { DirScan, ScanXattrs } from './dir-scan.js';
import type { ExcludeTag, TagExcluder } from './exclude-tags.js';

/**
 * What the scan thread starts with: the tags that exclude a directory's content, and
 * whether it reads extended attributes.
 */
export interface ScanWorkerSetup {
  tags: readonly ExcludeTag[];
  xattrs: ScanXattrs;
}

/** A request to the scan thread. */
export interface ToScanWorker {
  id: number;
  /** The directory, as `fs` takes it. */
  at: string;
}

/**
 * The scan thread's answer; no `scan` when the directory could not be listed. Its first
 * message is `{ ready: true }` (no id): it has loaded and takes requests.
 */
export type FromScanWorker = { id: number; scan?: DirScan } | { id?: undefined; ready: true };

/** Directories scanned or being scanned ahead of the walk, at most. */
const SCANS_AHEAD = 8;

function workerScript(): URL | undefined {
  return compiledWorker('scan-worker.js', import.meta.url);
}

/** Scans directories ahead of the walk on a worker thread; see the module comment. */
export class DirScanner {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, (scan: DirScan | undefined) => void>();
  /** Scans asked ahead and not yet taken, oldest first. */
  private readonly ahead = new Map<string, Promise<DirScan | undefined>>();
  /**
   * Directories to scan ahead once there is room: batches as `prefetch` named them, the
   * latest on top (a directory's subdirectories come before its later siblings, as in
   * the walk); `queued` is membership.
   */
  private batches: { ats: string[]; next: number }[] = [];
  private readonly queued = new Set<string>();
  private nextId = 1;
  /** The thread has loaded (see the module comment). */
  private ready = false;
  private readyWaiters: Array<(ready: boolean) => void> = [];
  private broken = false;
  private closing = false;

  /**
   * A scanner (its thread starts on the first `prefetch`), or undefined where the
   * compiled worker script is missing.
   */
  /**
   * The scanner, unless worker threads cannot run here; `tags` and `xattrs` as
   * scanDirectory takes them.
   */
  static start(tags?: TagExcluder, xattrs: ScanXattrs = 'none'): DirScanner | undefined {
    const script = workerScript();
    return script ? new DirScanner(script, { tags: tags?.list ?? [], xattrs }) : undefined;
  }

  private constructor(
    private readonly script: URL,
    private readonly setup: ScanWorkerSetup,
  ) {}

  private startThread(): Worker {
    const worker = startWorker(this.script, {
      workerData: this.setup,
      youngGenerationMb: 4,
      label: 'scan worker thread',
      closing: () => this.closing,
      lost: () => this.fail(),
    });
    worker.on('message', (m: FromScanWorker) => {
      if (m.id === undefined) {
        this.ready = true;
        for (const resolve of this.readyWaiters.splice(0)) resolve(true);
        this.fill();
        return;
      }
      const resolve = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      resolve?.(m.scan);
    });
    return worker;
  }

  /**
   * The scan of directory `at`: the one made ahead if any, else one asked now. Resolves
   * undefined when there is none to be had (see the module comment).
   */
  take(at: string): Promise<DirScan | undefined> {
    const ready = this.ahead.get(at);
    if (ready) {
      this.ahead.delete(at);
      this.fill();
      return ready;
    }
    // Not asked ahead, or asked but not sent yet: asked now. Should the scans ahead have
    // gone stale (never taken), the oldest makes room.
    this.queued.delete(at);
    if (this.ahead.size >= SCANS_AHEAD) this.ahead.delete(this.ahead.keys().next().value!);
    return this.request(at);
  }

  /**
   * Resolves true once the scan thread takes requests, false if it is gone or was never
   * started (nothing named ahead yet).
   */
  whenReady(): Promise<boolean> {
    if (this.ready && !this.broken) return Promise.resolve(true);
    if (this.broken || !this.worker) return Promise.resolve(false);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Directories the walk will enter soon, in the order it will (they go first). */
  prefetch(ats: string[]): void {
    const fresh = ats.filter((at) => !this.queued.has(at) && !this.ahead.has(at));
    if (fresh.length === 0 || this.broken) return;
    this.worker ??= this.startThread();
    for (const at of fresh) this.queued.add(at);
    this.batches.push({ ats: fresh, next: 0 });
    this.fill();
  }

  /** Stops the scan thread. */
  async close(): Promise<void> {
    this.closing = true;
    this.fail();
    await this.worker?.terminate();
  }

  /** Sends queued directories to the scan thread while there is room ahead. */
  private fill(): void {
    if (!this.ready) return;
    while (this.ahead.size < SCANS_AHEAD) {
      const at = this.nextQueued();
      if (at === undefined) return;
      this.ahead.set(at, this.request(at));
    }
  }

  private nextQueued(): string | undefined {
    for (;;) {
      const top = this.batches.at(-1);
      if (!top) return undefined;
      if (top.next === top.ats.length) {
        this.batches.pop();
        continue;
      }
      const at = top.ats[top.next++]!;
      if (this.queued.delete(at)) return at; // else taken meanwhile
    }
  }

  private request(at: string): Promise<DirScan | undefined> {
    const worker = this.worker;
    // Not started or not ready yet, or gone: the walk scans for itself.
    if (this.broken || !worker || !this.ready) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ id, at } satisfies ToScanWorker);
    });
  }

  /** The scan thread is gone: every scan asked resolves undefined, as do later ones. */
  private fail(): void {
    this.broken = true;
    for (const resolve of this.readyWaiters.splice(0)) resolve(false);
    for (const resolve of this.waiting.values()) resolve(undefined);
    this.waiting.clear();
    this.batches = [];
    this.queued.clear();
  }
}
