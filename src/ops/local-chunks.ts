/**
 * An index of the chunks already present in local files (the restore target and any
 * seed directories), so restoring a version over another fetches only what is missing.
 *
 * Files are cut with the repository's chunker parameters, so a local chunk has the id
 * the repository would give it. The index keeps, per chunk id, one place it can be read
 * from, and per file its chunk list (to see whether a file already matches). Reads
 * re-verify the bytes against the id: a file that changed since it was indexed (or was
 * already replaced by this restore) is detected and the chunk is fetched instead.
 * Paths are logical (names byte-exact, any length; see core/deep-path.ts).
 */
import { closeSync, constants, createReadStream, lstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { type ChunkerParams, chunkSpans, chunkStream } from '../chunker/index.js';
import { throwIfAborted } from '../core/abort.js';
import { DirRef, withFsPath, withFsPathSync } from '../core/deep-path.js';
import { readdirNames } from '../core/fs-names.js';
import { type ObjectId, sha256Hex } from '../core/ids.js';
import { isRestoreTempName } from './restore-fs.js';

/**
 * Files up to this size are read whole into one reused buffer, with synchronous calls,
 * and cut in memory: a read stream and a stream chunker per file allocate over 1 MiB
 * each, and each asynchronous call is a round trip through the thread pool, which for a
 * target of 3,000 small files made indexing take about 2 s (docs/performance.md).
 */
const WHOLE_READ_BYTES = 1024 * 1024;
/** At most this many files, or bytes, are indexed between two yields to the event loop (Ctrl-C). */
const FILES_PER_YIELD = 256;
const BYTES_PER_YIELD = 32 * 1024 * 1024;

/** Computes a chunk's id the way the repository does (SHA-256, or HMAC when encrypted). */
export type IdFunction = (data: Uint8Array) => ObjectId;

/** Where one chunk can be read. */
interface ChunkLocation {
  path: string;
  offset: number;
  length: number;
  /** In a restore's temporary file, which this restore removes once past its folder. */
  temporary: boolean;
}

/** Chunk ids of local files, and where to read them. */
export class LocalChunkIndex {
  private readonly chunks = new Map<ObjectId, ChunkLocation>();
  private readonly files = new Map<string, { size: number; ids: ObjectId[] }>();
  /** Bytes of local files read while indexing. */
  bytesIndexed = 0;
  /** The buffer small files are read into (files are indexed one at a time). */
  private scratch: Buffer | undefined;
  /** Files and bytes indexed since the last yield to the event loop. */
  private sinceYield = { files: 0, bytes: 0 };

  /**
   * @param params the repository's chunker parameters (as in effect: secret seed applied)
   * @param idOf the repository's id function, so local chunks match stored ids
   */
  constructor(
    private readonly params: ChunkerParams,
    private readonly idOf: IdFunction = sha256Hex,
  ) {}

  /** Indexes every regular file under each directory (missing directories are skipped). */
  async addTrees(dirs: string[], signal?: AbortSignal): Promise<void> {
    for (const dir of dirs) await this.addTree(dir, signal);
  }

  /**
   * Indexes the files under `dir`. `temporary`: `dir` is (inside) a staged directory an
   * interrupted restore left. `at`: how to reach `dir`, from its parent's short form:
   * `dir` is held open once that grows past 2 KB, so a tree N deep costs N steps, not N
   * walks of up to N names from the top (core/deep-path.ts). `normalized`: `dir` and
   * `at` are as `join` gives them, so a name is appended to them as it is: `join` would
   * rebuild the whole path, a string of N pieces at every level of a chain N deep.
   */
  private async addTree(
    dir: string,
    signal?: AbortSignal,
    temporary = false,
    at: string = dir,
    normalized = false,
  ): Promise<void> {
    throwIfAborted(signal);
    let held: DirRef;
    let names: string[];
    try {
      held = DirRef.open(at);
    } catch {
      return;
    }
    try {
      const here = held.reach();
      try {
        names = await withFsPath(here, readdirNames);
      } catch {
        return;
      }
      for (const name of names) {
        const path = normalized ? `${dir}/${name}` : join(dir, name);
        const childAt = normalized ? `${here}/${name}` : join(here, name);
        let st: ReturnType<typeof lstatSync>;
        try {
          st = withFsPathSync(childAt, (where) => lstatSync(where));
        } catch {
          continue;
        }
        const since = this.sinceYield;
        since.files++;
        if (st.isFile()) since.bytes += st.size;
        if (since.files >= FILES_PER_YIELD || since.bytes >= BYTES_PER_YIELD) {
          this.sinceYield = { files: 0, bytes: 0 };
          await yieldToEvents();
          throwIfAborted(signal);
        }
        // Temporary files and staged directories an interrupted restore left (restore-fs.ts)
        // count too: a file it was stopped in holds the chunks it had written (a part cut
        // off mid-chunk just yields one id nothing asks for), and any chunk read from them
        // is verified again, so a half-written one is fetched instead.
        const temp = temporary || isRestoreTempName(name);
        if (st.isDirectory()) await this.addTree(path, signal, temp, childAt, true);
        else if (st.isFile()) await this.addFile(path, signal, temp, childAt, st.size);
      }
    } finally {
      held.close();
    }
  }

  /**
   * Chunks one file and records its chunks. Unreadable files are skipped. A chunk found
   * in a `temporary` file (a restore's leftover, removed as the restore moves on) is
   * read from a lasting file instead whenever one holds it too. `at`: where to read it
   * now, if not at `path` (see addTree). `size`: its size as listed (a larger file is
   * streamed at once, not first read whole up to WHOLE_READ_BYTES).
   */
  async addFile(
    path: string,
    signal?: AbortSignal,
    temporary = false,
    at: string = path,
    size?: number,
  ): Promise<void> {
    const ids: ObjectId[] = [];
    let indexed = 0;
    const note = (data: Uint8Array, offset: number): void => {
      const id = this.idOf(data);
      ids.push(id);
      const known = this.chunks.get(id);
      if (!known || (known.temporary && !temporary))
        this.chunks.set(id, { path, offset, length: data.length, temporary });
      indexed += data.length;
    };
    try {
      // The path stays reachable (a deep one holds descriptors) until the file is read.
      await withFsPath(at, async (where) => {
        const whole =
          size === undefined || size <= WHOLE_READ_BYTES ? this.readSmall(where) : undefined;
        if (whole) {
          for (const span of chunkSpans(whole, this.params)) {
            note(whole.subarray(span.offset, span.offset + span.length), span.offset);
          }
          return;
        }
        throwIfAborted(signal);
        const stream = createReadStream(where, { highWaterMark: 1024 * 1024, signal });
        for await (const c of chunkStream(stream, this.params, signal)) note(c.data, c.offset);
      });
    } catch {
      return;
    }
    this.bytesIndexed += indexed;
    this.files.set(path, { size: indexed, ids });
  }

  /**
   * The whole content of file `at` as a view of the scratch buffer (valid until the next
   * call), or undefined when it is larger than WHOLE_READ_BYTES.
   */
  private readSmall(at: string | Buffer): Uint8Array | undefined {
    this.scratch ??= Buffer.allocUnsafe(WHOLE_READ_BYTES + 1);
    const buf = this.scratch;
    // Synchronous, so nothing may block: a FIFO or symlink swapped in since the lstat
    // opens at once (non-blocking) or not at all (no following).
    const fd = openSync(at, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    try {
      let n = 0;
      // To its end: one byte more than the limit means it is not small.
      for (;;) {
        const bytesRead = readSync(fd, buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n === buf.length) return undefined;
      }
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }

  /** True when the file at `path` was indexed with exactly these chunk ids. */
  fileMatches(path: string, ids: readonly ObjectId[], size: number): boolean {
    const f = this.files.get(path);
    return (
      f !== undefined &&
      f.size === size &&
      f.ids.length === ids.length &&
      f.ids.every((id, i) => id === ids[i])
    );
  }

  /** True when chunk `id` is available locally (as of indexing). */
  has(id: ObjectId): boolean {
    return this.chunks.has(id);
  }

  /** The bytes of chunk `id` from a local file, verified, or undefined. */
  async read(id: ObjectId): Promise<Uint8Array | undefined> {
    const loc = this.chunks.get(id);
    if (!loc) return undefined;
    try {
      const fh = await withFsPath(loc.path, (at) => open(at, 'r'));
      try {
        const buf = Buffer.allocUnsafe(loc.length);
        const { bytesRead } = await fh.read(buf, 0, loc.length, loc.offset);
        if (bytesRead !== loc.length || this.idOf(buf) !== id) {
          this.chunks.delete(id);
          return undefined;
        }
        return buf;
      } finally {
        await fh.close();
      }
    } catch {
      this.chunks.delete(id);
      return undefined;
    }
  }
}
