/**
 * A set of keys (object ids or blob keys), each with a numeric value, whose memory does
 * not grow with its size, and which answers lookups while it grows: what `check` and
 * `prune` use for the trees a walk has seen and the blobs a sweep keeps. (Sets that are
 * filled first and read after, like "every blob stored", are ExternalSortSets: nothing
 * memory-mapped, src/repo/external-sort-set.ts.)
 *
 * - Small sets stay in a JS Map. Once a set passes `spillThreshold` entries it moves to
 *   a temporary `level` database in a fresh directory (under `dir`), removed by
 *   `close()`; so small repositories (and every test that does not lower the threshold)
 *   never touch the disk.
 * - After the spill, additions go to a bounded write buffer flushed with one `batch`.
 *   A fixed-size Bloom filter in front answers most "absent" lookups without a read,
 *   and tells the flush which buffered keys are certainly new; only when some may
 *   repeat does `count()` recount with one sequential scan.
 * - `entries()` yields in ascending key order (level's order, which for the ASCII keys
 *   used here is JS string order), so two sets are compared by a merge-join
 *   (`SortedCursor`) without loading either.
 *
 * Calls must not overlap (await each addition); additions must not happen while an
 * `entries()` iteration is running. Lookups during an iteration are fine.
 */

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { makeDirectories } from '../core/mkdirs.js';
import { processAlive } from '../core/process.js';

/** Options for DiskSet. */
export interface DiskSetOptions {
  /** Parent of the temporary database directory (default: os.tmpdir()). */
  dir?: string;
  /** Entries kept in memory before spilling to disk (default `diskSetDefaults`). */
  spillThreshold?: number;
  /** Buffered additions before a flush to disk (default 8192). */
  bufferSize?: number;
}

/**
 * Process-wide defaults. Tests lower `spillThreshold` to run the disk path on small
 * repositories; the environment variable CAIRN_SPILL_THRESHOLD does the same for tools.
 */
export const diskSetDefaults = {
  spillThreshold: envThreshold() ?? 100_000,
  bufferSize: 8192,
};

/** CAIRN_SPILL_THRESHOLD, when set to a whole number. */
export function envThreshold(): number | undefined {
  const n = Number(process.env.CAIRN_SPILL_THRESHOLD);
  return Number.isInteger(n) && n >= 0 && process.env.CAIRN_SPILL_THRESHOLD !== '' ? n : undefined;
}

/**
 * Bits in the Bloom filter of a spilled set: 2^26 = 8 MiB, fixed whatever the size
 * (about 6% false positives at 10 million keys).
 */
const BLOOM_BITS = 1 << 26;
/**
 * LevelDB memory-maps the table files it holds open, and mapped pages count as resident
 * memory. Its smallest settings bound that per database: tables of 1 MiB (its minimum
 * size) and 80 open files (its minimum is 74; 10 are not tables), so about 70 tables,
 * some 100 MiB at most, are mapped whatever the size of the set. The memtable (also the
 * size of each new level-0 table) is 1 MiB.
 */
const TABLE_FILE_BYTES = 1024 * 1024;
const OPEN_FILES = 80;
const WRITE_BUFFER_BYTES = 1024 * 1024;
/** Entries read per `nextv` while iterating the database. */
const READ_BATCH = 1024;

/** A Bloom filter of fixed size with three probes from two FNV-1a style hashes. */
class Bloom {
  private readonly bits = new Uint32Array(BLOOM_BITS / 32);

  add(key: string): void {
    const [h1, h2] = hashes(key);
    for (let i = 0; i < 3; i++) {
      const bit = (h1 + i * h2) & (BLOOM_BITS - 1);
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  mayHave(key: string): boolean {
    const [h1, h2] = hashes(key);
    for (let i = 0; i < 3; i++) {
      const bit = (h1 + i * h2) & (BLOOM_BITS - 1);
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

function hashes(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return [a >>> 0, (b | 1) >>> 0];
}

/**
 * A set of string keys with a numeric value each, in memory while small and in a
 * temporary level database once large. Call `close()` when done (in a `finally`): it
 * removes the database directory.
 */
export class DiskSet {
  private readonly threshold: number;
  private readonly bufferSize: number;
  /** All entries before the spill; the unflushed additions after. */
  private memory = new Map<string, number>();
  private db: Level<string, string> | undefined;
  private path: string | undefined;
  private bloom: Bloom | undefined;
  /** Distinct keys on disk: exact unless `recount`. */
  private stored = 0;
  /** Set when a flush wrote keys that may have been on disk already. */
  private recount = false;
  private closed = false;

  constructor(private readonly options: DiskSetOptions = {}) {
    this.threshold = options.spillThreshold ?? diskSetDefaults.spillThreshold;
    this.bufferSize = Math.max(1, options.bufferSize ?? diskSetDefaults.bufferSize);
  }

  /** Whether the set has moved to disk. */
  get spilled(): boolean {
    return this.db !== undefined;
  }

  /** The temporary database directory, once spilled. */
  get directory(): string | undefined {
    return this.path;
  }

  /** The number of distinct keys (flushes the write buffer to count it exactly). */
  async count(): Promise<number> {
    if (!this.db) return this.memory.size;
    await this.flush();
    if (this.recount) {
      // One sequential scan instead of a random read per possibly repeated key.
      let n = 0;
      const it = this.db.keys();
      try {
        for (;;) {
          const batch = await it.nextv(READ_BATCH);
          if (batch.length === 0) break;
          n += batch.length;
        }
      } finally {
        await it.close();
      }
      this.stored = n;
      this.recount = false;
    }
    return this.stored;
  }

  /** Adds `key` (replacing its value). */
  async add(key: string, value = 0): Promise<void> {
    this.assertOpen();
    this.memory.set(key, value);
    if (this.db) {
      if (this.memory.size >= this.bufferSize) await this.flush();
    } else if (this.memory.size > this.threshold) {
      await this.spill();
    }
  }

  /** Whether `key` is in the set. */
  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /** The value of `key`, or undefined when absent. */
  async get(key: string): Promise<number | undefined> {
    this.assertOpen();
    const v = this.memory.get(key);
    if (v !== undefined || !this.db) return v;
    if (!this.bloom!.mayHave(key)) return undefined;
    const s = await this.db.get(key);
    return s === undefined ? undefined : Number(s);
  }

  /**
   * Adds `key` unless present; resolves true when it was new. The usual "seen" test of
   * a graph walk, in one call.
   */
  async addNew(key: string, value = 0): Promise<boolean> {
    if (await this.has(key)) return false;
    await this.add(key, value);
    return true;
  }

  /** Every entry as `[key, value]`, in ascending key order. */
  async *entries(): AsyncGenerator<[string, number]> {
    this.assertOpen();
    if (!this.db) {
      const keys = [...this.memory.keys()].sort();
      for (const k of keys) {
        const v = this.memory.get(k);
        if (v !== undefined) yield [k, v];
      }
      return;
    }
    await this.flush();
    const it = this.db.iterator();
    try {
      for (;;) {
        const batch = await it.nextv(READ_BATCH);
        if (batch.length === 0) break;
        for (const [k, v] of batch) yield [k, Number(v)];
      }
    } finally {
      await it.close();
    }
  }

  /** Every key, in ascending order. */
  async *keys(): AsyncGenerator<string> {
    for await (const [k] of this.entries()) yield k;
  }

  /** Closes and removes the temporary database. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.memory = new Map();
    const { db, path } = this;
    this.db = undefined;
    this.bloom = undefined;
    try {
      await db?.close();
    } finally {
      if (path) await rm(path, { recursive: true, force: true });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('DiskSet used after close()');
  }

  /** Moves the in-memory entries to a new temporary database. */
  private async spill(): Promise<void> {
    const path = await createSetDirectory(this.options.dir);
    this.path = path;
    const db = new Level<string, string>(path, {
      valueEncoding: 'utf8',
      maxFileSize: TABLE_FILE_BYTES,
      maxOpenFiles: OPEN_FILES,
      writeBufferSize: WRITE_BUFFER_BYTES,
    });
    try {
      await db.open();
    } catch (err) {
      await rm(path, { recursive: true, force: true });
      this.path = undefined;
      throw err;
    }
    this.db = db;
    this.bloom = new Bloom();
    // The database is empty, so every key is new: no reads needed.
    const all = this.memory;
    this.memory = new Map();
    let ops: Array<{ type: 'put'; key: string; value: string }> = [];
    for (const [key, value] of all) {
      ops.push({ type: 'put', key, value: String(value) });
      this.bloom.add(key);
      if (ops.length >= this.bufferSize) {
        await db.batch(ops);
        ops = [];
      }
    }
    if (ops.length > 0) await db.batch(ops);
    this.stored = all.size;
  }

  /**
   * Writes the buffered additions with one blind `batch`, counting those the Bloom
   * filter proves new; any other makes `count()` recount.
   */
  private async flush(): Promise<void> {
    const db = this.db;
    if (!db || this.memory.size === 0) return;
    const buffer = this.memory;
    this.memory = new Map();
    const bloom = this.bloom!;
    for (const key of buffer.keys()) {
      if (bloom.mayHave(key)) this.recount = true;
      else this.stored++;
    }
    const ops: Array<{ type: 'put'; key: string; value: string }> = [];
    for (const [key, value] of buffer) {
      ops.push({ type: 'put', key, value: String(value) });
      bloom.add(key);
    }
    await db.batch(ops);
  }
}

/**
 * A cursor over an ascending key stream, for merge-joins: `seek(key)` moves forward
 * past smaller keys and tells whether `key` is there. Keys passed to `seek` must not
 * decrease.
 */
export class SortedCursor {
  private readonly it: AsyncIterator<[string, number]>;
  private current: [string, number] | undefined;
  private started = false;
  private done = false;

  constructor(entries: AsyncIterable<[string, number]>) {
    this.it = entries[Symbol.asyncIterator]();
  }

  /** The value at `key` when the stream holds it, else undefined. */
  async seek(key: string): Promise<number | undefined> {
    if (!this.started) {
      this.started = true;
      await this.advance();
    }
    while (!this.done && this.current![0] < key) await this.advance();
    return !this.done && this.current![0] === key ? this.current![1] : undefined;
  }

  /** Whether the stream holds `key`. */
  async has(key: string): Promise<boolean> {
    return (await this.seek(key)) !== undefined;
  }

  /** Stops the underlying iteration early. */
  async close(): Promise<void> {
    await this.it.return?.();
  }

  private async advance(): Promise<void> {
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      this.current = undefined;
    } else {
      this.current = r.value;
    }
  }
}

/** Closes every set, even when some closes fail; rethrows the first failure. */
export async function closeAll(
  ...sets: Array<{ close(): Promise<void> } | undefined>
): Promise<void> {
  let failure: unknown;
  for (const s of sets) {
    try {
      await s?.close();
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
}

/**
 * A new empty directory for one set's files under `parent` (default: os.tmpdir()),
 * named after this process; first removes those that dead processes left there.
 */
export async function createSetDirectory(parent = tmpdir()): Promise<string> {
  await makeDirectories(parent);
  await removeStaleSets(parent);
  return mkdtemp(join(parent, `${SET_PREFIX}${process.pid}-`));
}

/** Name prefix of set directories: `cairn-set-<pid>-<random>`. */
const SET_PREFIX = 'cairn-set-';

/**
 * Removes set directories that killed processes left in `parent` (their pid no longer
 * runs). Best effort: a directory whose pid is alive, or unknown, is left alone.
 */
async function removeStaleSets(parent: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^cairn-set-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    await rm(join(parent, name), { recursive: true, force: true }).catch(() => {});
  }
}
