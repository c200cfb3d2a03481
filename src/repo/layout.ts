/**
 * Where each kind of object lives in a backend. Content-addressed objects are sharded
 * by their first two hex digits so no directory (or S3 listing page) grows past
 * 1/256 of the repository.
 */
import type { ObjectId } from '../core/ids.js';

/** The kinds of content-addressed blob a repository stores. */
export type BlobKind = 'data' | 'tree';

/** The repository's config object. */
export const CONFIG_KEY = 'config';
/** Folder of snapshot records. */
export const SNAPSHOTS_PREFIX = 'snapshots/';
/** Folder of lock records. */
export const LOCKS_PREFIX = 'locks/';

/** The backend key of a blob: `data/ab/abcd...` or `tree/ab/abcd...`. */
export function blobKey(kind: BlobKind, id: ObjectId): string {
  return `${kind}/${id.slice(0, 2)}/${id}`;
}

/** The folder all blobs of one kind live under. */
export function blobPrefix(kind: BlobKind): string {
  return `${kind}/`;
}

/** The backend key of a snapshot record. */
export function snapshotKey(id: ObjectId): string {
  return `${SNAPSHOTS_PREFIX}${id}`;
}

/**
 * The id of `key` when it is exactly the key of a `kind` blob (`<kind>/<xx>/<id>`), else
 * undefined: an object under another shard or in a subfolder is not that blob.
 */
export function blobIdOfKey(kind: BlobKind, key: string): ObjectId | undefined {
  const id = idOfKey(key);
  return id !== undefined && key === blobKey(kind, id) ? id : undefined;
}

/** The id part of a blob or snapshot key, or undefined if the key is not one. */
export function idOfKey(key: string): ObjectId | undefined {
  const last = key.slice(key.lastIndexOf('/') + 1);
  return /^[0-9a-f]{64}$/.test(last) ? last : undefined;
}
