/** A repository test code can store raw, hostile objects in, and wire forms of entries. */
import { LocalBackend } from '../../src/backends/local.js';
import { sha256Hex } from '../../src/core/ids.js';
import { entryToWire } from '../../src/manifest/entry-codec.js';
import { pack } from '../../src/manifest/msgpack.js';
import { encodeSnapshot } from '../../src/manifest/snapshot-codec.js';
import type { Snapshot } from '../../src/manifest/types.js';
import { sealBlob } from '../../src/repo/blob-format.js';
import { blobKey, snapshotKey } from '../../src/repo/layout.js';
import { initRepository } from '../../src/repo/repository.js';
import { tempDir } from './fs.js';
import { TINY_CHUNKS } from './repo.js';

export const T = { sec: 1_700_000_000, nsec: 0 };
export const ZERO_ID = '0'.repeat(64);

/** The fields every test file entry shares. */
const FILE_FIELDS = { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: T } as const;

/** A file entry's wire map with inline content. */
export function fileWire(name: string, content = 'pwned'): Record<string, unknown> {
  return entryToWire({
    name,
    ...FILE_FIELDS,
    size: content.length,
    chunks: [],
    inline: Buffer.from(content),
  });
}

/** A file entry's wire map whose only chunk is not stored (a made-up id). */
export function lostFileWire(name: string): Record<string, unknown> {
  return entryToWire({
    name,
    ...FILE_FIELDS,
    size: 10,
    chunks: [{ id: 'f'.repeat(64), size: 10 }],
  });
}

export function dirWire(name: string, tree: string): Record<string, unknown> {
  return entryToWire({
    name,
    kind: 'dir',
    mode: 0o755,
    uid: 0,
    gid: 0,
    mtime: T,
    tree,
    files: 1,
    bytes: 5,
  });
}

export function symlinkWire(name: string, target: string): Record<string, unknown> {
  return entryToWire({ name, kind: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: T, target });
}

/** A repository plus the means to store raw objects in it. */
export async function hostileRepo() {
  const dir = await tempDir('cairn-hostile-repo-');
  const backend = new LocalBackend(dir);
  const repo = await initRepository(backend, { chunker: TINY_CHUNKS, inlineMax: 32 });
  /** Stores raw tree plaintext (no checks) and returns its id. */
  const putTree = async (plaintext: Uint8Array): Promise<string> => {
    const id = sha256Hex(plaintext);
    await backend.put(blobKey('tree', id), sealBlob(plaintext));
    return id;
  };
  const putLeaf = (entries: unknown[]) => putTree(pack({ v: 1, e: entries }));
  const putData = async (bytes: Uint8Array): Promise<string> => {
    const id = sha256Hex(bytes);
    await backend.put(blobKey('data', id), sealBlob(bytes));
    return id;
  };
  /** Stores a valid snapshot record over `tree` and returns its id and record. */
  const putSnapshot = async (tree: string): Promise<{ id: string; snapshot: Snapshot }> => {
    const snapshot: Snapshot = {
      time: '2026-11-21T12:00:00.000Z',
      hostname: 'mallory',
      username: 'mallory',
      paths: ['/x'],
      tags: [],
      tree,
      summary: {
        files: 1,
        dirs: 1,
        bytes: 5,
        filesNew: 1,
        filesChanged: 0,
        filesUnchanged: 0,
        blobsAdded: 1,
        bytesAdded: 5,
        errors: 0,
        durationMs: 1,
      },
      program: 'mallory 1.0',
    };
    const plaintext = encodeSnapshot(snapshot);
    const id = sha256Hex(plaintext);
    await backend.put(snapshotKey(id), sealBlob(plaintext));
    return { id, snapshot };
  };
  return { repo, dir, backend, putTree, putLeaf, putData, putSnapshot };
}
