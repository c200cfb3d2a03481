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
import { createReadStream } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { type ChunkerParams, chunkStream } from '../chunker/index.js';
import { throwIfAborted } from '../core/abort.js';
import { DirRef, withFsPath } from '../core/deep-path.js';
import { readdirNames } from '../core/fs-names.js';
import { type ObjectId, sha256Hex } from '../core/ids.js';
import { isRestoreTempName } from './restore-fs.js';

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
        const st = await withFsPath(childAt, (where) => lstat(where)).catch(() => undefined);
        if (!st) continue;
        // Temporary files and staged directories an interrupted restore left (restore-fs.ts)
        // count too: a file it was stopped in holds the chunks it had written (a part cut
        // off mid-chunk just yields one id nothing asks for), and any chunk read from them
        // is verified again, so a half-written one is fetched instead.
        const temp = temporary || isRestoreTempName(name);
        if (st.isDirectory()) await this.addTree(path, signal, temp, childAt, true);
        else if (st.isFile()) await this.addFile(path, signal, temp, childAt);
      }
    } finally {
      held.close();
    }
  }

  /**
   * Chunks one file and records its chunks. Unreadable files are skipped. A chunk found
   * in a `temporary` file (a restore's leftover, removed as the restore moves on) is
   * read from a lasting file instead whenever one holds it too. `at`: where to read it
   * now, if not at `path` (see addTree).
   */
  async addFile(
    path: string,
    signal?: AbortSignal,
    temporary = false,
    at: string = path,
  ): Promise<void> {
    const ids: ObjectId[] = [];
    let size = 0;
    try {
      // The path stays reachable (a deep one holds descriptors) until the stream is read.
      await withFsPath(at, async (where) => {
        const stream = createReadStream(where, { highWaterMark: 1024 * 1024, signal });
        for await (const c of chunkStream(stream, this.params, signal)) {
          const id = this.idOf(c.data);
          ids.push(id);
          const known = this.chunks.get(id);
          if (!known || (known.temporary && !temporary))
            this.chunks.set(id, { path, offset: c.offset, length: c.data.length, temporary });
          size += c.data.length;
        }
      });
    } catch {
      return;
    }
    this.bytesIndexed += size;
    this.files.set(path, { size, ids });
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
