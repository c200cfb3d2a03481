/** Test helpers: tree entries, and a sample snapshot record. */
import type { Entry, Snapshot } from '../../src/manifest/types.js';

/**
 * A file entry called `name`: with `inline` content, or else of `size` bytes in one
 * made-up chunk (none when `size` is 0).
 */
export function fileEntry(name: string, size = 0, inline?: Uint8Array): Entry {
  const base = {
    kind: 'file',
    name,
    mode: 0o644,
    uid: 1,
    gid: 1,
    mtime: { sec: 1, nsec: 0 },
  } as const;
  return inline
    ? { ...base, size: inline.length, chunks: [], inline }
    : { ...base, size, chunks: size ? [{ id: 'ab'.repeat(32), size }] : [] };
}

/** A directory entry called `name` for tree `tree`, with its counts of files and bytes. */
export function dirEntry(name: string, tree: string, files: number, bytes: number): Entry {
  return {
    kind: 'dir',
    name,
    mode: 0o755,
    uid: 1,
    gid: 1,
    mtime: { sec: 1, nsec: 0 },
    tree,
    files,
    bytes,
  };
}

/** A valid snapshot record of tree `tree`, every field set (codec and field tests). */
export function sampleSnapshot(tree: string): Snapshot {
  return {
    time: '2026-01-02T03:04:05.678Z',
    hostname: 'h',
    username: 'u',
    paths: ['/p'],
    tags: ['t'],
    tree,
    summary: {
      files: 1,
      dirs: 2,
      bytes: 3,
      filesNew: 4,
      filesChanged: 5,
      filesUnchanged: 6,
      blobsAdded: 7,
      bytesAdded: 8,
      errors: 0,
      durationMs: 9,
    },
    program: 'cairn 0.1.0',
  };
}
