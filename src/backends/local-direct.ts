/**
 * Writing many objects into a local repository from a worker thread, with the same
 * on-disk protocol as LocalBackend.put with `ifNotExists`: a temporary file in the
 * target directory, fsynced, hard-linked to its final name (EEXIST: another writer got
 * there first, nothing written), the temporary name removed, the directory fsynced.
 *
 * Where LocalBackend.put pays a thread-pool round trip per system call, this makes the
 * cheap calls synchronously (on a worker thread that blocks nobody) and runs the
 * fsyncs of a whole batch at once in the thread pool, so their latencies overlap.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import path from 'node:path';
import { errnoCode, fsError } from './fs-errors.js';
import { checkKey } from './keys.js';
import { TEMP_PREFIX } from './local.js';

/** What a worker needs to write into a local repository directly (structured-cloneable). */
export interface LocalDirectSetup {
  root: string;
  fsync: boolean;
}

/** `link` errors that mean "this file system has no hard links". */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** One object to write: its bytes are the concatenation of `parts`. */
export interface DirectItem {
  key: string;
  parts: Uint8Array[];
}

interface OpenItem {
  key: string;
  file: string;
  temp: string;
  fd: number;
}

/** Synchronous-path writer for one local repository root; see the module comment. */
export class LocalDirectWriter {
  private readonly knownDirs = new Set<string>();
  /** Temporary names: a random prefix per writer and a counter (no entropy per file). */
  private readonly tempStem = TEMP_PREFIX + randomBytes(6).toString('hex');
  private counter = 0;
  private hardLinks = true;

  constructor(private readonly setup: LocalDirectSetup) {}

  private fileOf(key: string): string {
    return path.join(this.setup.root, ...checkKey(key).split('/'));
  }

  /** True if `key` is stored (a regular file). */
  has(key: string): boolean {
    return this.sizeOf(key) !== undefined;
  }

  /** The stored size of `key`, or undefined if it is not stored. */
  sizeOf(key: string): number | undefined {
    const st = statSync(this.fileOf(key), { throwIfNoEntry: false });
    return st?.isFile() ? st.size : undefined;
  }

  /**
   * Writes every item unless its key exists; resolves, per item, whether this call
   * wrote it. On failure no temporary file is left and the error names the object.
   */
  async putMany(items: DirectItem[]): Promise<boolean[]> {
    const opened: OpenItem[] = [];
    const syncDirs = new Set<string>();
    try {
      for (const item of items) {
        const file = this.fileOf(item.key);
        const dir = path.dirname(file);
        const temp = path.join(dir, `${this.tempStem}-${this.counter++}`);
        this.makeDir(dir, syncDirs);
        let fd: number;
        try {
          fd = openSync(temp, 'wx', 0o644);
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw fsError(err, 'put', item.key, temp);
          // The folder was removed behind our back: create it again.
          this.knownDirs.delete(dir);
          this.makeDir(dir, syncDirs);
          fd = openSync(temp, 'wx', 0o644);
        }
        opened.push({ key: item.key, file, temp, fd });
        writeAll(fd, item.parts, item.key, temp);
      }
      if (this.setup.fsync) await Promise.all(opened.map((o) => fsyncFd(o.fd, o.key, o.temp)));
      const written: boolean[] = [];
      for (const o of opened) {
        closeSync(o.fd);
        o.fd = -1;
        const ok = this.publish(o);
        if (ok) syncDirs.add(path.dirname(o.file));
        written.push(ok);
      }
      if (this.setup.fsync) await Promise.all([...syncDirs].map(syncDir));
      return written;
    } finally {
      for (const o of opened) {
        if (o.fd >= 0) closeSync(o.fd);
        try {
          unlinkSync(o.temp);
        } catch {
          // already linked and removed, or never created
        }
      }
    }
  }

  /** Gives the temporary file its final name unless that exists; true if it did. */
  private publish(o: OpenItem): boolean {
    if (this.hardLinks) {
      try {
        linkSync(o.temp, o.file);
        return true;
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'EEXIST') return false;
        if (code === undefined || !NO_HARD_LINKS.has(code))
          throw fsError(err, 'put', o.key, o.file);
        this.hardLinks = false;
      }
    }
    // No hard links (FAT, some shares): check, then rename, as LocalBackend does.
    if (lstatSync(o.file, { throwIfNoEntry: false })) return false;
    renameSync(o.temp, o.file);
    return true;
  }

  /** Creates `dir` if needed; new directories (and their parents) are queued for fsync. */
  private makeDir(dir: string, syncDirs: Set<string>): void {
    if (this.knownDirs.has(dir)) return;
    const first = mkdirSync(dir, { recursive: true });
    if (this.knownDirs.size < 4096) this.knownDirs.add(dir);
    if (first === undefined) return;
    for (let d = dir; ; d = path.dirname(d)) {
      syncDirs.add(path.dirname(d));
      if (d === first || d === path.dirname(d)) break;
    }
  }
}

function writeAll(fd: number, parts: Uint8Array[], key: string, temp: string): void {
  try {
    const total = parts.reduce((n, p) => n + p.length, 0);
    let done = writevSync(fd, parts);
    // A short gathering write (rare: signals, full disks) finishes part by part.
    let offset = 0;
    for (const part of parts) {
      const end = offset + part.length;
      while (done < end) done += writeSync(fd, part, done - offset, end - done);
      offset = end;
    }
    if (done !== total) throw new Error(`wrote ${done} of ${total} bytes`);
  } catch (err) {
    throw fsError(err, 'put', key, temp);
  }
}

function fsyncFd(fd: number, key: string, temp: string): Promise<void> {
  return new Promise((resolve, reject) =>
    fsync(fd, (err) => (err ? reject(fsError(err, 'put', key, temp)) : resolve())),
  );
}

/** fsyncs a directory (best effort, as in LocalBackend). */
function syncDir(dir: string): Promise<void> {
  return new Promise((resolve) => {
    let fd: number;
    try {
      fd = openSync(dir, 'r');
    } catch {
      resolve();
      return;
    }
    fsync(fd, () => {
      closeSync(fd);
      resolve();
    });
  });
}
