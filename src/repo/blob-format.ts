/**
 * The envelope of every stored blob, snapshot record and index:
 *
 *   byte 0   0xCA, the magic
 *   byte 1   envelope format version (1)
 *   byte 2   compression codec: 0 = none, 1 = zstd (one frame declaring its size)
 *   byte 3   encryption codec: 0 = none, 1 = AES-256-GCM
 *   byte 4.. payload
 *
 * Codec 0/0: the payload is the plaintext. Compression applies to the plaintext first;
 * encryption then seals the (possibly compressed) bytes as `nonce(12) || ciphertext ||
 * tag(16)` with the 4 header bytes as associated data, so the header cannot be altered
 * either. codec.ts does the sealing and opening; this file only knows the layout.
 */
import { FormatError } from '../core/errors.js';

export const BLOB_MAGIC = 0xca;
export const BLOB_FORMAT_VERSION = 1;
export const HEADER_BYTES = 4;

/** Compression codecs. */
export const Compression = { none: 0, zstd: 1 } as const;
/** Encryption codecs. */
export const Encryption = { none: 0, aes256gcm: 1 } as const;

/** The header bytes for the given codecs. */
export function blobHeader(compression: number, encryption: number): Uint8Array {
  return Uint8Array.of(BLOB_MAGIC, BLOB_FORMAT_VERSION, compression, encryption);
}

/** The codecs of an envelope read from `source`, after checking magic and version. */
export function parseHeader(
  stored: Uint8Array,
  source: string,
): { compression: number; encryption: number } {
  if (stored.length < HEADER_BYTES) throw new FormatError(source, 'shorter than the blob header');
  if (stored[0] !== BLOB_MAGIC) throw new FormatError(source, 'not a cairn blob (bad magic byte)');
  if (stored[1] !== BLOB_FORMAT_VERSION) {
    throw new FormatError(source, `unsupported blob format version ${stored[1]}`);
  }
  const compression = stored[2]!;
  const encryption = stored[3]!;
  if (compression !== Compression.none && compression !== Compression.zstd) {
    throw new FormatError(source, `unsupported compression codec ${compression}`);
  }
  if (encryption !== Encryption.none && encryption !== Encryption.aes256gcm) {
    throw new FormatError(source, `unsupported encryption codec ${encryption}`);
  }
  return { compression, encryption };
}

/** Wraps a plaintext payload in the envelope with no compression and no encryption. */
export function sealBlob(plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + plaintext.length);
  out.set(blobHeader(Compression.none, Encryption.none), 0);
  out.set(plaintext, HEADER_BYTES);
  return out;
}

/**
 * Unwraps an envelope with no compression and no encryption and returns the plaintext
 * (tests and tools; repositories open objects through their codec, codec.ts).
 */
export function openBlob(stored: Uint8Array, source: string): Uint8Array {
  const { compression, encryption } = parseHeader(stored, source);
  if (compression !== Compression.none || encryption !== Encryption.none) {
    throw new FormatError(source, 'compressed or encrypted: open it through the repository codec');
  }
  return stored.subarray(HEADER_BYTES);
}
