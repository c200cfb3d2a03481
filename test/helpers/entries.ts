/** Test helpers: tree entries. */
import type { Entry } from '../../src/manifest/types.js';

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
