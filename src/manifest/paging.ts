/**
 * Where a large directory is split into pages.
 *
 * A directory node is cut after an entry when the page holds at least `min` bytes and
 * the entry's name hash falls under a threshold proportional to the entry's encoded
 * size (so pages average about `target` bytes whatever the entry sizes), or when the
 * page reaches `max` bytes. The decision depends only on the entry itself, never on its
 * position, so inserting or changing one entry moves at most the boundaries next to it:
 * the other pages keep their bytes and ids, and diff and sync skip them. Names, unlike
 * content bytes, stay put when a file's content changes, which is why the hash is over
 * the name rather than a rolling hash over the encoded bytes.
 */
import * as crypto from 'node:crypto';
import { isWellFormedName, nameToBytes } from '../core/fs-names.js';

/** Page size parameters, in encoded bytes. */
export interface PagingParams {
  min: number;
  target: number;
  max: number;
}

/**
 * Defaults (the `backup` preset): 256 KiB pages. A first backup of 100,000 small files,
 * whose content sits in leaf pages, writes 2,765 pages instead of 10,889 at 64 KiB, and
 * took 8.1-9.4 s instead of 10.2-12.8 s on a local repository (every object is a file,
 * fsynced with its directory). A one-file change rewrites one page (and the index above
 * it), so `builds` repositories, read version by version over slow links, keep
 * SMALL_PAGING.
 */
export const DEFAULT_PAGING: PagingParams = {
  min: 64 * 1024,
  target: 256 * 1024,
  max: 1024 * 1024,
};

/** 64 KiB pages: smaller rewrites per changed file, four times the objects. */
export const SMALL_PAGING: PagingParams = { min: 16 * 1024, target: 64 * 1024, max: 256 * 1024 };

/** `crypto.hash` (Node >= 20.12): no Hash object per call, which a backup makes per file. */
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/**
 * The 32-bit boundary hash of a name: the first four bytes, big-endian, of SHA-256 of
 * the name's bytes (its UTF-8, or its raw bytes when it is not valid UTF-8).
 */
export function nameHash(name: string): number {
  const data = isWellFormedName(name) ? name : nameToBytes(name);
  if (oneShot) return oneShot('sha256', data, 'buffer').readUInt32BE(0);
  return crypto.createHash('sha256').update(data).digest().readUInt32BE(0);
}

/**
 * True when a page that now holds `pageBytes` (including this entry) should end after
 * the entry `name` of `entryBytes` encoded bytes.
 */
export function isPageBoundary(
  name: string,
  entryBytes: number,
  pageBytes: number,
  params: PagingParams,
): boolean {
  if (pageBytes >= params.max) return true;
  if (pageBytes < params.min) return false;
  const threshold = Math.min(1, entryBytes / params.target) * 0x1_0000_0000;
  return nameHash(name) < threshold;
}
