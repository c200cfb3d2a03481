/**
 * The envelope of every stored blob and snapshot record:
 *
 *   byte 0   0xCA, the magic
 *   byte 1   envelope format version (1)
 *   byte 2   compression codec (0 = none)
 *   byte 3   encryption codec (0 = none)
 *   byte 4.. payload (the plaintext when both codecs are 0)
 *
 * The id of a blob is the SHA-256 of its plaintext, so a reader verifies content after
 * undoing the codecs. Compression and encryption can be added as new codec numbers
 * without breaking repositories that do not use them.
 */
import { FormatError } from '../core/errors.js';

export const BLOB_MAGIC = 0xca;
export const BLOB_FORMAT_VERSION = 1;
export const HEADER_BYTES = 4;

/** Compression codecs. */
export const Compression = { none: 0 } as const;
/** Encryption codecs. */
export const Encryption = { none: 0 } as const;

const HEADER_NONE = Uint8Array.of(
  BLOB_MAGIC,
  BLOB_FORMAT_VERSION,
  Compression.none,
  Encryption.none,
);

/** Wraps a plaintext payload in the envelope (no compression, no encryption). */
export function sealBlob(plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + plaintext.length);
  out.set(HEADER_NONE, 0);
  out.set(plaintext, HEADER_BYTES);
  return out;
}

/** Unwraps an envelope read from `source` and returns the plaintext. */
export function openBlob(stored: Uint8Array, source: string): Uint8Array {
  if (stored.length < HEADER_BYTES) throw new FormatError(source, 'shorter than the blob header');
  if (stored[0] !== BLOB_MAGIC) throw new FormatError(source, 'not a cairn blob (bad magic byte)');
  if (stored[1] !== BLOB_FORMAT_VERSION) {
    throw new FormatError(source, `unsupported blob format version ${stored[1]}`);
  }
  if (stored[2] !== Compression.none) {
    throw new FormatError(source, `unsupported compression codec ${stored[2]}`);
  }
  if (stored[3] !== Encryption.none) {
    throw new FormatError(source, `unsupported encryption codec ${stored[3]}`);
  }
  return stored.subarray(HEADER_BYTES);
}
