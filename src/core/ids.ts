/**
 * Content ids: SHA-256 (via node:crypto, which uses the CPU's SHA extensions) shown as
 * 64 lowercase hex digits, stored as 32 raw bytes inside manifests.
 */
import { createHash, randomBytes } from 'node:crypto';
import { FormatError } from './errors.js';

/** A content id as 64 lowercase hex digits. */
export type ObjectId = string;

/** Bytes in a raw id. */
export const ID_BYTES = 32;

const HEX_ID = /^[0-9a-f]{64}$/;

/** SHA-256 of `data` as raw bytes. */
export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** SHA-256 of `data` as an ObjectId. */
export function sha256Hex(data: Uint8Array): ObjectId {
  return createHash('sha256').update(data).digest('hex');
}

/** True when `s` is a well-formed ObjectId. */
export function isObjectId(s: string): boolean {
  return HEX_ID.test(s);
}

/** Raw 32 bytes to an ObjectId. */
export function idFromBytes(bytes: Uint8Array, source = 'id'): ObjectId {
  if (bytes.length !== ID_BYTES) {
    throw new FormatError(source, `an id must be ${ID_BYTES} bytes, got ${bytes.length}`);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** An ObjectId to its raw 32 bytes. */
export function idToBytes(id: ObjectId): Buffer {
  if (!isObjectId(id)) throw new FormatError('id', `not a 64-digit lowercase hex id: ${id}`);
  return Buffer.from(id, 'hex');
}

/** A fresh random id (for repository ids, lock ids). */
export function randomId(): ObjectId {
  return randomBytes(ID_BYTES).toString('hex');
}

/** The short form of an id shown to people (like git's abbreviated hashes). */
export function shortId(id: ObjectId): string {
  return id.slice(0, 8);
}
