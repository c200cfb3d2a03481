/**
 * Sorted run files: the on-disk pieces of an external merge sort (src/repo/external-sort-set.ts).
 *
 * A run is a text file of lines `key<TAB>value<LF>` in ascending key order (JS string
 * order), each key once. Text rather than binary so that a lookup can binary-search
 * the file without an index: any byte offset is one newline away from a line start.
 * Keys are ASCII without TAB or LF (object ids and blob keys), at most `MAX_KEY_LENGTH`.
 *
 * Reading is by fixed-size blocks into a reused buffer, so a reader costs its buffer
 * and nothing that grows with the file; no file is memory-mapped.
 */
import { type FileHandle, open } from 'node:fs/promises';

/** Longest key a run holds; keeps every line shorter than `LOOKUP_BLOCK`. */
export const MAX_KEY_LENGTH = 512;
/** Bytes read at each step of a lookup: more than two of the longest lines. */
const LOOKUP_BLOCK = 2048;
const LF = 0x0a;
const TAB = 0x09;

/** Throws a RangeError unless `key` can be stored in a run. */
export function checkRunKey(key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw new RangeError(`sorted set key must be 1-${MAX_KEY_LENGTH} printable ASCII characters`);
  }
}

/** One run's entries in ascending key order, as written by `writeRun`. */
export interface RunEntries {
  keys: readonly string[];
  values: readonly number[];
}

/** Bytes buffered per write. */
const WRITE_BUFFER = 64 * 1024;
/** Longest line: key, TAB, the longest number `String()` gives, LF. */
const MAX_LINE = MAX_KEY_LENGTH + 32;

/** Writes `entries` (ascending, distinct keys) to a new file at `path`. */
export async function writeRun(path: string, entries: RunEntries): Promise<void> {
  const out = await RunWriter.create(path);
  try {
    const { keys, values } = entries;
    for (let i = 0; i < keys.length; i++) {
      const pending = out.push(keys[i]!, values[i]!);
      if (pending) await pending;
    }
    await out.finish();
  } finally {
    await out.close();
  }
}

/**
 * Appends lines to a new run file through one buffer. Lines are copied in as bytes,
 * so the writer keeps no reference to the strings it was given (a key sliced from a
 * reader's block would otherwise keep the whole block alive).
 */
export class RunWriter {
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER);
  private used = 0;
  /** Lines written so far. */
  count = 0;

  private constructor(private readonly file: FileHandle) {}

  /** Creates `path` (which must not exist). */
  static async create(path: string): Promise<RunWriter> {
    return new RunWriter(await open(path, 'wx'));
  }

  /**
   * Adds one entry; keys must come in ascending order. Returns a promise, to await
   * before the next call, only when the buffer is being written out.
   */
  push(key: string, value: number): Promise<void> | undefined {
    const { buffer } = this;
    let at = this.used;
    at += buffer.write(key, at, 'latin1');
    buffer[at++] = TAB;
    at += buffer.write(String(value), at, 'latin1');
    buffer[at++] = LF;
    this.used = at;
    this.count++;
    return at > WRITE_BUFFER - MAX_LINE ? this.flush() : undefined;
  }

  /** Writes what is buffered. */
  async finish(): Promise<void> {
    await this.flush();
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  private async flush(): Promise<void> {
    let done = 0;
    while (done < this.used) {
      const { bytesWritten } = await this.file.write(this.buffer, done, this.used - done);
      done += bytesWritten;
    }
    this.used = 0;
  }
}

/**
 * Reads a run front to back in blocks of `blockSize` bytes. `key`/`value` are the
 * current entry; `advance()` moves to the next, and is synchronous while the block
 * lasts (`needsRead` says when `refill()` must be awaited first). Lines are parsed one
 * at a time as the reader reaches them, so a reader holds its block and one entry.
 */
export class RunReader {
  private readonly block: Buffer;
  /** The current block's complete lines, as text. */
  private text = '';
  /** Where the next line to parse starts in `text`. */
  private next = 0;
  /** Whether `key`/`value` hold an entry not yet passed. */
  private ready = false;
  private currentKey = '';
  private currentValue = 0;
  /** Bytes of a line cut by the end of the last block, carried to the next. */
  private carry = '';
  private position = 0;
  private eof = false;

  private constructor(
    private readonly file: FileHandle,
    blockSize: number,
    private readonly path: string,
  ) {
    this.block = Buffer.allocUnsafe(blockSize);
  }

  /** Opens `path` and reads its first block. */
  static async open(path: string, blockSize: number): Promise<RunReader> {
    const reader = new RunReader(await open(path, 'r'), blockSize, path);
    try {
      await reader.refill();
    } catch (err) {
      await reader.close();
      throw err;
    }
    return reader;
  }

  /** Whether every entry has been passed. */
  get done(): boolean {
    return !this.ready && this.eof;
  }

  /** Whether the current block is used up and `refill()` must run before `key`. */
  get needsRead(): boolean {
    return !this.ready && !this.eof;
  }

  get key(): string {
    return this.currentKey;
  }

  get value(): number {
    return this.currentValue;
  }

  /** Moves to the next entry (then check `needsRead`). */
  advance(): void {
    this.parseLine();
  }

  /** Reads blocks until an entry is available or the file ends. */
  async refill(): Promise<void> {
    while (!this.ready && !this.eof) {
      const { bytesRead } = await this.file.read(this.block, 0, this.block.length, this.position);
      this.position += bytesRead;
      if (bytesRead === 0) {
        this.eof = true;
        if (this.carry !== '') throw new Error(`run file ${this.path} ends inside a line`);
        break;
      }
      const text = this.carry + this.block.toString('latin1', 0, bytesRead);
      const end = text.lastIndexOf('\n') + 1;
      this.carry = text.slice(end);
      this.text = text.slice(0, end);
      this.next = 0;
      this.parseLine();
    }
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  /** Parses the line at `next` into the current entry, if the block has one left. */
  private parseLine(): void {
    const { text } = this;
    const start = this.next;
    if (start >= text.length) {
      this.ready = false;
      return;
    }
    const tab = text.indexOf('\t', start);
    const stop = text.indexOf('\n', start);
    if (tab < 0 || tab > stop) throw new Error(`run file ${this.path} has a line without a value`);
    this.currentKey = text.slice(start, tab);
    this.currentValue = Number(text.slice(tab + 1, stop));
    this.next = stop + 1;
    this.ready = true;
  }
}

/**
 * The value of `key` in the run open as `file` (`size` bytes), or undefined: a binary
 * search over byte offsets, reading one small block per step (about log2(size) reads).
 */
export async function lookupInRun(
  file: FileHandle,
  size: number,
  key: string,
): Promise<number | undefined> {
  const block = Buffer.allocUnsafe(LOOKUP_BLOCK);
  /** The line starting at the first line start at or after `pos`, if any. */
  const lineFrom = async (
    pos: number,
  ): Promise<{ start: number; next: number; key: string; value: number } | undefined> => {
    // Read from pos - 1: a newline there means a line starts exactly at pos.
    const from = Math.max(0, pos - 1);
    const { bytesRead } = await file.read(block, 0, LOOKUP_BLOCK, from);
    const data = block.subarray(0, bytesRead);
    const i = pos > 0 ? data.indexOf(LF) + 1 : 0;
    if (i === 0 && pos > 0) return undefined; // no line starts in the rest of the file
    if (i >= bytesRead) return undefined;
    const start = from + i;
    const tab = data.indexOf(TAB, i);
    const lf = data.indexOf(LF, i);
    if (tab < 0 || lf < 0 || lf < tab) throw new Error(`malformed run file line at byte ${start}`);
    return {
      start,
      next: from + lf + 1,
      key: data.toString('latin1', i, tab),
      value: Number(data.toString('latin1', tab + 1, lf)),
    };
  };
  // Every line starting before `lo` has a smaller key; none starting in [lo, hi) is
  // known to be >= key, and every line starting at or after `hi` is.
  let lo = 0;
  let hi = size;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const line = await lineFrom(mid);
    if (line === undefined || line.start >= hi) {
      hi = mid;
    } else if (line.key < key) {
      lo = line.next;
    } else {
      hi = line.start;
    }
  }
  const found = lo < size ? await lineFrom(lo) : undefined;
  return found !== undefined && found.key === key ? found.value : undefined;
}
