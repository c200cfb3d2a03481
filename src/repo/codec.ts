/**
 * The object codec of a repository: how ids are computed and how objects are sealed
 * into and opened from their envelope (blob-format.ts). Everything that names or stores
 * an object goes through one codec, so an encrypted repository never computes a plain
 * SHA-256 id and never stores a plaintext byte.
 *
 * - Plain: ids are SHA-256 of the plaintext; objects optionally zstd-compressed.
 * - Encrypted: ids are HMAC-SHA256 under the id key; objects are compressed (when
 *   worth it), then sealed with AES-256-GCM. An object that fails authentication is an
 *   IntegrityError naming it; an unencrypted object in an encrypted repository is
 *   refused the same way (an attacker could otherwise substitute plaintext).
 */
import { createHash } from 'node:crypto';
import { FormatError, IntegrityError } from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { isAllZero } from '../core/zeros.js';
import { blobHeader, Compression, Encryption, HEADER_BYTES, parseHeader } from './blob-format.js';
import { looksIncompressible } from './compressibility.js';
import { aeadOpen, aeadSeal, keyedId, type MasterKeys, NONCE_BYTES, TAG_BYTES } from './crypto.js';
import { blobPrefix } from './layout.js';
import { type OutputPlace, zstdCompress, zstdDecompress, zstdReady } from './zstd.js';

/**
 * Compression choice of a writer: none; zstd level 3 when it pays, file content that
 * looks random not tried (compressibility.ts); zstd level 11 when it pays.
 */
export type CompressionMode = 'off' | 'auto' | 'max';

/**
 * What a plaintext holds, for the compression choice: `content`, a chunk of a file's
 * content (which `auto` skips when it looks random), or `other` (always tried).
 */
export type PlaintextKind = 'content' | 'other';

/** What the blob stored under `key` holds: data blobs are file content, trees are not. */
export function plaintextKindOf(key: string): PlaintextKind {
  return key.startsWith(blobPrefix('data')) ? 'content' : 'other';
}

/** The largest plaintext an object may decompress to (a bound against decompression bombs). */
export const MAX_OBJECT_BYTES = 256 * 1024 * 1024;

/** Compression is kept only when it saves at least 3%. */
const WORTH_IT = 0.97;
/** Below this, compression cannot save a frame header's worth. */
const MIN_COMPRESS = 64;
/** Plaintexts shorter than this are hashed whatever they hold (zeros cost as much to check). */
const ZERO_MEMO_MIN = 4096;
/** Lengths of all-zero plaintexts whose ids are kept (cleared when full). */
const ZERO_MEMO_LENGTHS = 64;
const LEVELS: Record<Exclude<CompressionMode, 'off'>, number> = { auto: 3, max: 11 };

/** Ids, sealing and opening for one repository. */
export class ObjectCodec {
  /**
   * @param keys the master keys when the repository is encrypted
   * @param compression how writers compress (readers handle any codec)
   */
  constructor(
    readonly keys: MasterKeys | undefined = undefined,
    readonly compression: CompressionMode = 'off',
  ) {}

  /** True for an encrypted repository. */
  get encrypted(): boolean {
    return this.keys !== undefined;
  }

  /**
   * Ids of all-zero plaintexts by length. A hole of a sparse file or the zeroed part of
   * a disk image cuts into chunks of the largest size, all alike: each length is hashed
   * once, then asking whether a chunk is zeros (a memcmp) replaces hashing it.
   */
  private readonly zeroIds = new Map<number, ObjectId>();

  /** The id of an object with this plaintext. */
  idOf(plaintext: Uint8Array): ObjectId {
    if (plaintext.length < ZERO_MEMO_MIN || plaintext[0] !== 0 || !isAllZero(plaintext)) {
      return this.hash(plaintext);
    }
    let id = this.zeroIds.get(plaintext.length);
    if (id === undefined) {
      id = this.hash(plaintext);
      if (this.zeroIds.size >= ZERO_MEMO_LENGTHS) this.zeroIds.clear();
      this.zeroIds.set(plaintext.length, id);
    }
    return id;
  }

  private hash(plaintext: Uint8Array): ObjectId {
    if (this.keys) return keyedId(this.keys.idKey, plaintext);
    return createHash('sha256').update(plaintext).digest('hex');
  }

  /**
   * A fingerprint of the id scheme: two repositories give equal ids to equal content
   * exactly when their fingerprints are equal. Safe to show (it reveals no key).
   */
  get idScheme(): string {
    if (!this.keys) return 'sha256';
    return `hmac-sha256:${keyedId(this.keys.idKey, Buffer.from('cairn id scheme check')).slice(0, 16)}`;
  }

  /**
   * The stored size of an `n`-byte plaintext written without compression (an estimate
   * for dry runs, which do not read the data: compression can only make it smaller).
   */
  storedSize(n: number): number {
    return HEADER_BYTES + n + (this.keys ? NONCE_BYTES + TAG_BYTES : 0);
  }

  /** Seals a plaintext into its stored envelope. */
  async seal(plaintext: Uint8Array, kind: PlaintextKind = 'other'): Promise<Uint8Array> {
    const [header, body] = await this.sealParts(plaintext, kind);
    const out = new Uint8Array(header.length + body.length);
    out.set(header, 0);
    out.set(body, header.length);
    return out;
  }

  /**
   * The stored envelope as two parts, header and body, whose concatenation is what
   * `seal` returns. Unsealed data is not copied: the body may be `plaintext` itself
   * (for writers that write both parts with one gathering write).
   */
  async sealParts(
    plaintext: Uint8Array,
    kind: PlaintextKind = 'other',
  ): Promise<[Uint8Array, Uint8Array]> {
    let body: Uint8Array = plaintext;
    let compression: number = Compression.none;
    const level = this.levelFor(plaintext, kind);
    if (level !== undefined) {
      await zstdReady();
      const packed = zstdCompress(plaintext, level);
      if (packed.length <= plaintext.length * WORTH_IT) {
        body = packed;
        compression = Compression.zstd;
      }
    }
    const encryption = this.keys ? Encryption.aes256gcm : Encryption.none;
    const header = blobHeader(compression, encryption);
    if (this.keys) body = aeadSeal(this.keys.encryptionKey, body, header);
    return [header, body];
  }

  /** The zstd level to try on `plaintext`, or undefined when it would not pay (see CompressionMode). */
  private levelFor(plaintext: Uint8Array, kind: PlaintextKind): number | undefined {
    const mode = this.compression;
    if (mode === 'off' || plaintext.length < MIN_COMPRESS) return undefined;
    if (mode === 'auto' && kind === 'content' && looksIncompressible(plaintext)) return undefined;
    return LEVELS[mode];
  }

  /**
   * Opens a stored envelope read from `source` (named in errors) and returns the
   * plaintext. Does not check the id: see `openVerified`. `place` may say where a
   * decompressed plaintext goes (a reused buffer; see zstd.ts).
   */
  async open(
    stored: Uint8Array,
    source: string,
    maxBytes = MAX_OBJECT_BYTES,
    place?: OutputPlace,
  ): Promise<Uint8Array> {
    const { compression, encryption } = parseHeader(stored, source);
    let body = stored.subarray(HEADER_BYTES);
    if (this.keys) {
      if (encryption !== Encryption.aes256gcm) {
        throw new IntegrityError(
          source,
          `${source} is not encrypted, but the repository is: refused (tampered or foreign object)`,
        );
      }
      const opened = aeadOpen(this.keys.encryptionKey, body, stored.subarray(0, HEADER_BYTES));
      if (!opened) {
        throw new IntegrityError(
          source,
          `${source} fails authentication: it was tampered with, damaged, or sealed with another key`,
        );
      }
      body = opened;
    } else if (encryption !== Encryption.none) {
      throw new FormatError(
        source,
        'is encrypted but the repository config says it is not: wrong repository or tampered config',
      );
    }
    if (compression === Compression.zstd) {
      await zstdReady();
      return zstdDecompress(body, maxBytes, source, place);
    }
    if (body.length > maxBytes) {
      throw new FormatError(source, `${body.length} bytes, more than the limit of ${maxBytes}`);
    }
    return body;
  }

  /** Opens `stored` and checks that its plaintext has id `id`; IntegrityError otherwise. */
  async openVerified(
    stored: Uint8Array,
    id: ObjectId,
    source: string,
    maxBytes = MAX_OBJECT_BYTES,
    place?: OutputPlace,
  ): Promise<Uint8Array> {
    const plaintext = await this.open(stored, source, maxBytes, place);
    const actual = this.idOf(plaintext);
    if (actual !== id) {
      throw new IntegrityError(id, `${source} is corrupt: its content hashes to ${actual}`, actual);
    }
    return plaintext;
  }
}

/** The codec of an unencrypted, uncompressed repository (the format before codecs). */
export const PLAIN_CODEC = new ObjectCodec();
