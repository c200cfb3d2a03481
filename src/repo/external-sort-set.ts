/**
 * A set of keys with a numeric value each, filled first and read after, whose memory
 * stays the same whatever its size: an external merge sort. It holds "every blob the
 * repository stores" and "every blob the snapshots reference" for `check` and `prune`,
 * which add every key, then read them in key order (merge-joins) and look up a few.
 *
 * - Additions go to an in-memory Map. A set that never reaches `runEntries` distinct
 *   keys stays there and never touches the disk.
 * - Otherwise each full Map is sorted and written as a run file (src/repo/sorted-run.ts)
 *   in a fresh directory under `dir`. Runs are merged `fanIn` at a time as they pile up
 *   (level by level, like a binary counter), so there are never more than `fanIn` runs
 *   of a level and every entry is rewritten about log_fanIn(runs) times.
 * - The first read seals the set: the remaining runs are merged into one file, each key
 *   once; a key added more than once keeps the value added last. `entries()` streams
 *   that file through one block buffer, `get()` binary-searches it on disk.
 *
 * Memory: the Map (`runEntries` entries) while adding, `fanIn` block buffers while
 * merging, one while reading. Nothing is memory-mapped, unlike a LevelDB whose open
 * tables count as resident (src/repo/disk-set.ts). The price: the set cannot be added
 * to once read, and a lookup costs about log2(file size) small reads.
 */
import type { FileHandle } from 'node:fs/promises';
import { open, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createSetDirectory, envThreshold } from './disk-set.js';
import { checkRunKey, lookupInRun, RunReader, RunWriter, writeRun } from './sorted-run.js';

/** Options for ExternalSortSet. */
export interface ExternalSortSetOptions {
  /** Parent of the temporary run directory (default: os.tmpdir()). */
  dir?: string;
  /** Distinct keys held in memory before they are written as a run. */
  runEntries?: number;
  /** Runs merged at once (at least 2). */
  fanIn?: number;
  /** Bytes each run reader reads at a time. */
  blockSize?: number;
}

/**
 * Process-wide defaults. 32,768 blob keys are about 4 MiB in a Map; 128 runs of them
 * (4 million keys) merge in one pass through 2 MiB of block buffers. CAIRN_SPILL_THRESHOLD
 * sets `runEntries` too, as it sets DiskSet's threshold; tests lower it directly.
 */
export const sortSetDefaults = {
  runEntries: envThreshold() ?? 32_768,
  fanIn: 128,
  blockSize: 16 * 1024,
};

interface Run {
  path: string;
  /** Merges it went through: runs of one level are merged into one of the next. */
  level: number;
  /** Distinct keys in it. */
  count: number;
}

/** The set once sealed: in memory, or one sorted file. */
type Sealed =
  | { kind: 'memory'; keys: string[]; values: Map<string, number> }
  | { kind: 'file'; path: string; size: number; count: number };

/**
 * A write-then-read set of string keys (printable ASCII, no spaces) with a numeric value
 * each. Call `close()` when done (in a `finally`): it removes the run files.
 * Additions must not overlap (await each) and must all come before the first read.
 */
export class ExternalSortSet {
  private readonly runEntries: number;
  private readonly fanIn: number;
  private readonly blockSize: number;
  private memory = new Map<string, number>();
  /** Runs on disk, oldest first. */
  private runs: Run[] = [];
  private directory: string | undefined;
  private nextRun = 0;
  private sealing: Promise<Sealed> | undefined;
  private lookupFile: Promise<FileHandle> | undefined;
  private closed = false;

  constructor(private readonly options: ExternalSortSetOptions = {}) {
    this.runEntries = Math.max(1, options.runEntries ?? sortSetDefaults.runEntries);
    this.fanIn = Math.max(2, options.fanIn ?? sortSetDefaults.fanIn);
    this.blockSize = Math.max(4096, options.blockSize ?? sortSetDefaults.blockSize);
  }

  /** Whether runs were written to disk. */
  get spilled(): boolean {
    return this.directory !== undefined;
  }

  /** The temporary run directory, once spilled. */
  get runDirectory(): string | undefined {
    return this.directory;
  }

  /** Adds `key` with `value`, replacing the value of an earlier addition. */
  async add(key: string, value = 0): Promise<void> {
    this.assertOpen();
    if (this.sealing) throw new Error('ExternalSortSet: add() after the set was read');
    checkRunKey(key);
    this.memory.set(key, value);
    if (this.memory.size >= this.runEntries) await this.spillMemory();
  }

  /** The number of distinct keys. Seals the set. */
  async count(): Promise<number> {
    const sealed = await this.seal();
    return sealed.kind === 'memory' ? sealed.keys.length : sealed.count;
  }

  /** Whether `key` is in the set. Seals the set. */
  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /** The value of `key`, or undefined. Seals the set. */
  async get(key: string): Promise<number | undefined> {
    const sealed = await this.seal();
    if (sealed.kind === 'memory') return sealed.values.get(key);
    if (sealed.count === 0) return undefined;
    this.lookupFile ??= open(sealed.path, 'r');
    return lookupInRun(await this.lookupFile, sealed.size, key);
  }

  /** Every entry as `[key, value]`, in ascending key order. Seals the set. */
  async *entries(): AsyncGenerator<[string, number]> {
    const sealed = await this.seal();
    if (sealed.kind === 'memory') {
      for (const k of sealed.keys) yield [k, sealed.values.get(k)!];
      return;
    }
    const reader = await RunReader.open(sealed.path, this.blockSize);
    try {
      for (;;) {
        if (reader.needsRead) await reader.refill();
        if (reader.done) break;
        yield [reader.key, reader.value];
        reader.advance();
      }
    } finally {
      await reader.close();
    }
  }

  /** Every key, in ascending order. Seals the set. */
  async *keys(): AsyncGenerator<string> {
    for await (const [k] of this.entries()) yield k;
  }

  /** Removes the run files. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.memory = new Map();
    this.runs = [];
    const lookup = this.lookupFile;
    this.lookupFile = undefined;
    try {
      if (lookup) await (await lookup).close();
    } finally {
      if (this.directory) await rm(this.directory, { recursive: true, force: true });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('ExternalSortSet used after close()');
  }

  private seal(): Promise<Sealed> {
    this.assertOpen();
    this.sealing ??= this.sealNow();
    return this.sealing;
  }

  private async sealNow(): Promise<Sealed> {
    if (!this.directory) {
      const values = this.memory;
      this.memory = new Map();
      return { kind: 'memory', keys: [...values.keys()].sort(), values };
    }
    if (this.memory.size > 0) await this.spillMemory();
    while (this.runs.length > this.fanIn) {
      // Oldest first, so that "the value added last" still holds after the merge.
      const merged = await this.merge(this.runs.slice(0, this.fanIn));
      this.runs.splice(0, this.fanIn, merged);
    }
    const final = this.runs.length === 1 ? this.runs[0]! : await this.merge(this.runs.slice());
    this.runs = [final];
    return {
      kind: 'file',
      path: final.path,
      size: (await stat(final.path)).size,
      count: final.count,
    };
  }

  /** Writes the Map as a new run, then merges full levels. */
  private async spillMemory(): Promise<void> {
    this.directory ??= await createSetDirectory(this.options.dir);
    const keys = [...this.memory.keys()].sort();
    const values = keys.map((k) => this.memory.get(k)!);
    this.memory = new Map();
    const path = this.runPath();
    await writeRun(path, { keys, values });
    this.runs.push({ path, level: 0, count: keys.length });
    for (;;) {
      const n = this.runs.length;
      if (n < this.fanIn) break;
      const level = this.runs[n - 1]!.level;
      const group = this.runs.slice(n - this.fanIn);
      if (group.some((r) => r.level !== level)) break;
      const merged = await this.merge(group);
      this.runs.splice(n - this.fanIn, this.fanIn, { ...merged, level: level + 1 });
    }
  }

  private runPath(): string {
    return join(this.directory!, `run-${this.nextRun++}`);
  }

  /**
   * Merges `group` (oldest first) into one new run, each key once with the value of
   * the newest run holding it, and deletes the inputs.
   */
  private async merge(group: Run[]): Promise<Run> {
    const path = this.runPath();
    const readers: RunReader[] = [];
    const out = await RunWriter.create(path);
    try {
      for (const run of group) readers.push(await RunReader.open(run.path, this.blockSize));
      const heap = new ReaderHeap(readers);
      while (heap.size > 0) {
        const top = heap.top;
        const key = readers[top]!.key;
        let value = readers[top]!.value;
        let newest = top;
        // Every reader at this key: keep the newest value, move each past it.
        while (heap.size > 0 && readers[heap.top]!.key === key) {
          const r = heap.top;
          const reader = readers[r]!;
          if (r > newest) {
            newest = r;
            value = reader.value;
          }
          reader.advance();
          if (reader.needsRead) await reader.refill();
          if (reader.done) heap.pop();
          else heap.fix();
        }
        const pending = out.push(key, value);
        if (pending) await pending;
      }
      await out.finish();
    } finally {
      for (const r of readers) await r.close();
      await out.close();
    }
    for (const run of group) await unlink(run.path);
    return { path, level: 0, count: out.count };
  }
}

/**
 * A min-heap of reader indices by (current key, index): the reader with the smallest
 * key on top, the oldest first among equal keys. Readers that are done are left out.
 */
class ReaderHeap {
  private readonly items: number[] = [];

  constructor(private readonly readers: readonly RunReader[]) {
    readers.forEach((r, i) => {
      if (!r.done) this.items.push(i);
    });
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  get size(): number {
    return this.items.length;
  }

  get top(): number {
    return this.items[0]!;
  }

  /** Removes the top. */
  pop(): void {
    const last = this.items.pop()!;
    if (this.items.length > 0) {
      this.items[0] = last;
      this.down(0);
    }
  }

  /** Restores the order after the top's key changed. */
  fix(): void {
    this.down(0);
  }

  private less(a: number, b: number): boolean {
    const ka = this.readers[a]!.key;
    const kb = this.readers[b]!.key;
    return ka < kb || (ka === kb && a < b);
  }

  private down(i: number): void {
    const { items } = this;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && this.less(items[l]!, items[m]!)) m = l;
      if (r < items.length && this.less(items[r]!, items[m]!)) m = r;
      if (m === i) return;
      [items[i], items[m]] = [items[m]!, items[i]!];
      i = m;
    }
  }
}
