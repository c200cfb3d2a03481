/**
 * Repositories for the TUI tests: a source tree backed up three times with changes in
 * between (so there is something to compare), and helpers to wait for ink frames.
 */
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend, CallOptions, GetOptions, ObjectInfo } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import type { Entry } from '../../src/manifest/types.js';
import { backup } from '../../src/ops/backup.js';
import { Repository } from '../../src/repo/repository.js';
import type { SnapshotRef } from '../../src/repo/snapshots.js';
import { pseudoRandomBytes, setMtime, tempDir, writeTree } from '../helpers/fs.js';
import { localRepo } from '../helpers/repo.js';

/** A repository with three snapshots of one source directory. */
export interface Fixture {
  repo: Repository;
  /** The repository directory. */
  dir: string;
  /** The source directory, as it is after the last backup. */
  src: string;
  /** Snapshots oldest first: v1 (host alpha), v2 (host alpha), v3 (host beta). */
  snaps: [SnapshotRef, SnapshotRef, SnapshotRef];
  /** The content of files as they were in v3. */
  files: Record<string, Buffer>;
}

/** Text lines for files large enough to span several chunks. */
export function textLines(n: number, word: string): string {
  return Array.from({ length: n }, (_, i) => `${word} line ${i + 1}`).join('\n') + '\n';
}

/** Builds the three-snapshot fixture. */
export async function buildFixture(): Promise<Fixture> {
  // 4 KiB chunks: big.dat spans ~50 chunks, so restores show progress.
  const { repo, dir } = await localRepo({
    chunker: { min: 1024, avg: 4096, max: 16384, level: 1 },
  });
  const src = await tempDir('cairn-src-');
  await writeTree(src, {
    docs: {
      'a.txt': textLines(200, 'alpha'),
      'b.txt': 'bravo\n',
      'notes.md': '# Notes\n\n\tindented\n',
    },
    code: {
      'main.ts': 'console.log("main");\n',
      lib: { 'util.ts': textLines(50, 'util'), 'deep.ts': 'export const deep = 1;\n' },
    },
    'image.bin': pseudoRandomBytes(3000, 7),
    'big.dat': pseudoRandomBytes(200_000, 8),
    'readme.txt': 'read me\n',
  });
  await setMtime(join(src, 'docs', 'a.txt'), 1_600_000_000);
  const snap = async (tags: string[], hostname: string): Promise<SnapshotRef> => {
    const { snapshotId, snapshot } = await backup(repo, {
      paths: [src],
      tags,
      hostname,
      statCacheDir: false,
    });
    // Records are ordered by time: keep them at least a millisecond apart.
    await new Promise((r) => setTimeout(r, 5));
    return { id: snapshotId!, snapshot };
  };
  const v1 = await snap(['v1'], 'alpha');
  await writeFile(join(src, 'docs', 'a.txt'), textLines(210, 'alpha'));
  await rm(join(src, 'docs', 'b.txt'));
  await writeFile(join(src, 'docs', 'c.txt'), 'charlie\n');
  const v2 = await snap(['v2', 'release'], 'alpha');
  await chmod(join(src, 'readme.txt'), 0o600);
  await writeFile(join(src, 'code', 'lib', 'new.ts'), 'export const added = true;\n');
  const v3 = await snap(['nightly'], 'beta');
  const files: Record<string, Buffer> = {};
  for (const p of [
    'docs/a.txt',
    'docs/c.txt',
    'docs/notes.md',
    'code/main.ts',
    'code/lib/util.ts',
    'code/lib/deep.ts',
    'code/lib/new.ts',
    'big.dat',
    'image.bin',
    'readme.txt',
  ]) {
    files[p] = await readFile(join(src, p));
  }
  return { repo, dir, src, snaps: [v1, v2, v3], files };
}

/** A snapshot whose root holds `dir/` with `count` empty files (built without disk files). */
export async function buildHugeDirectory(repo: Repository, count: number): Promise<SnapshotRef> {
  const mtime = { sec: 1_700_000_000, nsec: 0 };
  const names = Array.from({ length: count }, (_, i) => `file-${String(i).padStart(6, '0')}`);
  const writer = repo.directoryWriter();
  for (const name of names) {
    await writer.add({
      kind: 'file',
      name,
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime,
      size: 0,
      chunks: [],
    });
  }
  const big = await writer.finish();
  const root = repo.directoryWriter();
  const dirEntry: Entry = {
    kind: 'dir',
    name: 'huge',
    mode: 0o755,
    uid: 0,
    gid: 0,
    mtime,
    tree: big.tree,
    files: count,
    bytes: 0,
  };
  await root.add(dirEntry);
  const top = await root.finish();
  const snapshot = {
    time: new Date().toISOString(),
    hostname: 'bulk',
    username: 'test',
    paths: ['/huge'],
    tags: ['huge'],
    tree: top.tree,
    summary: {
      files: count,
      dirs: 1,
      bytes: 0,
      filesNew: count,
      filesChanged: 0,
      filesUnchanged: 0,
      blobsAdded: 0,
      bytesAdded: 0,
      errors: 0,
      durationMs: 0,
    },
    program: 'test',
  };
  const id = await repo.snapshots.save(snapshot);
  return { id, snapshot };
}

/**
 * A backend whose reads wait until `open()` is called: everything the UI loads stays
 * pending, to show that keys still work and spinners show.
 */
export class GatedBackend extends ForwardingBackend {
  private gate: Promise<void> = Promise.resolve();
  private release: () => void = () => {};
  constructor(inner: Backend) {
    super(inner);
    this.hold();
  }
  /** Lets every waiting and future read through. */
  open(): void {
    this.release();
  }
  /** Holds every later read until the next `open()`. */
  hold(): void {
    this.gate = new Promise((r) => {
      this.release = r;
    });
  }
  override async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    if (!key.startsWith('config')) await this.gate;
    return super.get(key, options);
  }
  override async *list(prefix: string, options?: CallOptions): AsyncIterable<ObjectInfo> {
    await this.gate;
    yield* super.list(prefix, options);
  }
}

/** A backend that waits `ms` before every read of a data blob (for slow restores). */
export class SlowDataBackend extends ForwardingBackend {
  constructor(
    inner: Backend,
    private readonly ms: number,
  ) {
    super(inner);
  }
  override async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    if (key.startsWith('data/')) await new Promise((r) => setTimeout(r, this.ms));
    return super.get(key, options);
  }
}

/** The same repository seen through another backend (wrapping its own). */
export function throughBackend(repo: Repository, wrap: (b: Backend) => Backend): Repository {
  return new Repository(wrap(repo.backend), repo.config);
}
