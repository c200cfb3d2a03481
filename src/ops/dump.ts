/**
 * `dump`: a file of a snapshot as its bytes, or any part of a snapshot as a tar archive
 * (tar.ts), as a stream of pieces to write to a pipe: `cairn dump latest db.sql | psql`,
 * `cairn dump latest src | tar -x`. Chunks are fetched up to FETCHES at a time, across
 * files, and come out in order, so a remote repository's latency overlaps; memory is
 * those chunks at most, however large the files.
 *
 * What the repository says is checked before it is written: a file's chunk sizes must
 * add up to its size (a tar header promises that many bytes), and each chunk must be as
 * long as its reference says (its content is checked against its id by the blob store).
 */
import { throwIfAborted } from '../core/abort.js';
import { FormatError, IntegrityError } from '../core/errors.js';
import { nameToBytes } from '../core/fs-names.js';
import type { ObjectId } from '../core/ids.js';
import { mapConcurrent } from '../core/limit.js';
import type { Entry, FileEntry } from '../manifest/types.js';
import type { Repository } from '../repo/repository.js';
import { padding, type TarHeader, type TarKind, tarEnd, tarHeaderBlocks } from './tar.js';
import { walkTree } from './walk.js';

/** Chunks fetched at once. */
const FETCHES = 16;
/** The largest device number a ustar field holds (7 octal digits). */
const DEVICE_MAX = 0o7777777;

/** A piece of output: bytes at once, or a chunk to fetch (and check) first. */
type Piece = Uint8Array | (() => Promise<Uint8Array>);

/** The content of `entry` (at `path`, for errors), in order. */
export function fileBytes(
  repo: Repository,
  entry: FileEntry,
  path: string,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  checkSizes(entry, path);
  return fetchInOrder(filePieces(repo, entry, path, signal), signal);
}

/** What `tarOf` left out: entries a tar cannot hold. */
export interface TarSkip {
  path: string;
  reason: string;
}

/**
 * A tar archive of `root` (the snapshot's root tree, whose entries come at the top of
 * the archive) or of one `entry` at `path` (with everything below it, if a directory),
 * paths as in the snapshot. Sockets, which tar cannot hold, are left out and reported
 * to `onSkip`. Hard-linked files (same `hardlink` value) after the first are links to it.
 */
export function tarOf(
  repo: Repository,
  root: { tree: ObjectId } | { entry: Entry; path: string },
  options: { signal?: AbortSignal; onSkip?: (skip: TarSkip) => void } = {},
): AsyncGenerator<Uint8Array> {
  return fetchInOrder(tarPieces(repo, root, options), options.signal);
}

async function* tarPieces(
  repo: Repository,
  root: { tree: ObjectId } | { entry: Entry; path: string },
  options: { signal?: AbortSignal; onSkip?: (skip: TarSkip) => void },
): AsyncGenerator<Piece> {
  // First paths of hard-link groups, as strings (one is made of them only when needed).
  const linked = new Map<string, string>();
  const one = (path: string, entry: Entry) => entryPieces(repo, path, entry, linked, options);
  if ('entry' in root) {
    yield* one(root.path, root.entry);
    if (root.entry.kind === 'dir') {
      for await (const x of walkTree(repo, root.entry.tree, root.path, options.signal)) {
        yield* one(x.path, x.entry);
      }
    }
  } else {
    for await (const x of walkTree(repo, root.tree, '', options.signal))
      yield* one(x.path, x.entry);
  }
  yield tarEnd();
}

function* entryPieces(
  repo: Repository,
  path: string,
  entry: Entry,
  linked: Map<string, string>,
  options: { signal?: AbortSignal; onSkip?: (skip: TarSkip) => void },
): Generator<Piece> {
  if (entry.kind === 'socket') {
    options.onSkip?.({ path, reason: 'a socket (tar has no type for one)' });
    return;
  }
  const pathBytes = nameToBytes(path);
  const base = {
    path: pathBytes,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    mtime: entry.mtime,
    size: 0,
    ...(entry.xattrs ? { xattrs: entry.xattrs } : {}),
  };
  let header: TarHeader;
  switch (entry.kind) {
    case 'file': {
      const first = entry.hardlink === undefined ? undefined : linked.get(entry.hardlink);
      if (first) {
        yield tarHeaderBlocks({ ...base, kind: 'hardlink', linkpath: nameToBytes(first) });
        return;
      }
      if (entry.hardlink !== undefined) linked.set(entry.hardlink, path);
      checkSizes(entry, path);
      yield tarHeaderBlocks({ ...base, kind: 'file', size: entry.size });
      yield* filePieces(repo, entry, path, options.signal);
      const pad = padding(entry.size);
      if (pad > 0) yield new Uint8Array(pad);
      return;
    }
    case 'symlink':
      header = { ...base, kind: 'symlink', linkpath: nameToBytes(entry.target) };
      break;
    case 'chardev':
    case 'blockdev': {
      const numbers = deviceNumbers(entry.rdev ?? 0);
      if (numbers.devmajor > DEVICE_MAX || numbers.devminor > DEVICE_MAX) {
        options.onSkip?.({ path, reason: 'a device number too large for a tar header' });
        return;
      }
      header = { ...base, kind: entry.kind, ...numbers };
      break;
    }
    default:
      header = { ...base, kind: entry.kind satisfies TarKind };
  }
  yield tarHeaderBlocks(header);
}

/** The pieces of a file's content (sizes checked): its inline bytes, or chunks to fetch. */
function* filePieces(
  repo: Repository,
  entry: FileEntry,
  path: string,
  signal?: AbortSignal,
): Generator<Piece> {
  if (entry.inline) {
    yield entry.inline;
    return;
  }
  for (const ref of entry.chunks) {
    yield async () => {
      const data = await repo.blobs.get('data', ref.id, signal ? { signal } : {});
      if (data.length !== ref.size) {
        throw new IntegrityError(
          ref.id,
          `${path}: chunk ${ref.id} holds ${data.length} bytes where its tree says ${ref.size}`,
        );
      }
      return data;
    };
  }
}

/** Refuses a file whose parts do not add up to its size (a tar header states it). */
function checkSizes(entry: FileEntry, path: string): void {
  const total = entry.inline ? entry.inline.length : entry.chunks.reduce((n, c) => n + c.size, 0);
  if (total !== entry.size) {
    throw new FormatError(path, `its size is ${entry.size} but its content holds ${total} bytes`);
  }
}

/** Pieces in order, fetching up to FETCHES chunks ahead. */
async function* fetchInOrder(
  pieces: AsyncIterable<Piece> | Iterable<Piece>,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  for await (const bytes of mapConcurrent(pieces, FETCHES, async (p) =>
    typeof p === 'function' ? p() : p,
  )) {
    throwIfAborted(signal);
    yield bytes;
  }
}

/** Linux's major and minor numbers of a device number. */
function deviceNumbers(rdev: number): { devmajor: number; devminor: number } {
  const d = BigInt(rdev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & 0xffffff00n);
  return { devmajor: Number(major), devminor: Number(minor) };
}
