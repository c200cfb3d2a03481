/**
 * Fixtures shared by the sync tests (local and S3): a small source tree with nested
 * directories, a one-file change deep inside it, the exact set of blobs that change
 * should cost, and a backend wrapper that records which keys were really written.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import type { ObjectId } from '../../src/core/ids.js';
import type { Entry, FileEntry } from '../../src/manifest/types.js';
import type { Repository } from '../../src/repo/repository.js';
import { pseudoRandomBytes, writeTree } from './fs.js';

/** Path (inside the snapshot) of the file `changeDeepFile` rewrites. */
export const DEEP_FILE = ['a', 'b', 'c', 'deep.bin'];

/** Writes the source tree: 4 levels deep, chunked and inline files, a wider directory. */
export async function writeSource(dir: string): Promise<void> {
  const many: Record<string, Uint8Array> = {};
  for (let i = 0; i < 12; i++) many[`f${i}`] = pseudoRandomBytes(600 + 97 * i, 100 + i);
  await writeTree(dir, {
    a: {
      b: {
        c: { 'deep.bin': pseudoRandomBytes(6000, 1) },
        'other.bin': pseudoRandomBytes(5000, 2),
      },
      sibling: { 'x.bin': pseudoRandomBytes(4000, 3) },
    },
    'top.txt': 'hello\n',
    many,
  });
}

/** Rewrites a 100-byte stretch in the middle of a/b/c/deep.bin, in place. */
export async function changeDeepFile(dir: string): Promise<void> {
  const data = pseudoRandomBytes(6000, 1);
  data.set(pseudoRandomBytes(100, 999), 3000);
  await writeFile(join(dir, ...DEEP_FILE), data);
}

/** Every data blob id a snapshot's tree references. */
export async function dataIds(repo: Repository, tree: ObjectId): Promise<Set<ObjectId>> {
  const ids = new Set<ObjectId>();
  const visit = async (id: ObjectId) => {
    for await (const e of repo.trees.entries(id)) {
      if (e.kind === 'file') for (const c of e.chunks) ids.add(c.id);
      else if (e.kind === 'dir') await visit(e.tree);
    }
  };
  await visit(tree);
  return ids;
}

/** The entry at `path` (a list of names) below tree `root`. */
export async function entryAt(repo: Repository, root: ObjectId, path: string[]): Promise<Entry> {
  let tree = root;
  let entry: Entry | undefined;
  for (const name of path) {
    entry = await repo.trees.lookup(tree, name);
    if (!entry) throw new Error(`no ${name} in ${path.join('/')}`);
    if (entry.kind === 'dir') tree = entry.tree;
  }
  return entry!;
}

/**
 * What syncing the changed snapshot must send, given the old snapshot is already in the
 * destination: the changed file's chunks that the old snapshot lacks, the tree nodes on
 * the file's path (root, a, a/b, a/b/c: each directory is one page), one record.
 */
export async function expectedIncrement(
  repo: Repository,
  oldTree: ObjectId,
  newTree: ObjectId,
): Promise<{ data: number; trees: number }> {
  const old = await dataIds(repo, oldTree);
  const file = (await entryAt(repo, newTree, DEEP_FILE)) as FileEntry;
  const fresh = new Set(file.chunks.map((c) => c.id).filter((id) => !old.has(id)));
  return { data: fresh.size, trees: DEEP_FILE.length };
}

/** Key prefixes of what sync copies: blobs and snapshot records. */
const COPIED = ['data/', 'tree/', 'snapshots/'];

/**
 * Records the keys of puts that wrote, and can abort a controller after a number of
 * written blobs (to interrupt a sync midway). Objects a repository derives from its
 * records (such as a snapshot index under `index/`) are recorded too but kept apart
 * by `copied` and `derivedPuts`, so counts do not depend on whether a store keeps them.
 */
export class RecordingBackend extends ForwardingBackend {
  readonly written: string[] = [];
  /** Bytes of each written key. */
  readonly sizes = new Map<string, number>();
  abortAfter: { count: number; controller: AbortController } | undefined;

  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    const ok = await this.inner.put(key, data, options);
    if (ok) {
      this.written.push(key);
      this.sizes.set(key, data.length);
      const a = this.abortAfter;
      if (a && this.written.length >= a.count) a.controller.abort(new Error('test interrupt'));
    }
    return ok;
  }

  /** Written keys of one kind (`data/`, `tree/`, `snapshots/`). */
  keys(prefix: string): string[] {
    return this.written.filter((k) => k.startsWith(prefix));
  }

  /** Written blobs and records, in order (what sync itself copies). */
  get copied(): string[] {
    return this.written.filter((k) => COPIED.some((p) => k.startsWith(p)));
  }

  /** Bytes of the written blobs and records. */
  get copiedBytes(): number {
    return this.copied.reduce((n, k) => n + (this.sizes.get(k) ?? 0), 0);
  }

  /**
   * Writes of anything else (objects derived from the records, e.g. an index) but locks,
   * which sync takes on the repository itself, not through its counted requests.
   */
  get derivedPuts(): number {
    return this.written.filter((k) => !k.startsWith('locks/')).length - this.copied.length;
  }

  /** Forgets what was recorded. */
  clear(): void {
    this.written.length = 0;
    this.sizes.clear();
  }
}
