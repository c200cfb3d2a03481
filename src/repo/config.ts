/**
 * The repository config: a small JSON object at key `config`, written once by `init`.
 * It makes the repository self-describing: format version, a random repository id,
 * the chunker parameters every writer must use (so data deduplicates), and the
 * thresholds for inline files and directory pages. It is read from an untrusted
 * backend, so every field is checked.
 */
import { type ChunkerParams, chunkerParams } from '../chunker/index.js';
import { FormatError, UsageError } from '../core/errors.js';
import { isObjectId, randomId } from '../core/ids.js';
import { DEFAULT_PAGING, type PagingParams } from '../manifest/paging.js';
import type { CompressionMode } from './codec.js';
import type { MasterKeys } from './crypto.js';

/** Current repository format version. */
export const REPO_VERSION = 1;

/** The decoded config. */
export interface RepoConfig {
  version: number;
  /** Random 256-bit id, shown in messages and used to key local caches. */
  id: string;
  /** When `init` ran (ISO 8601). */
  created: string;
  chunker: ChunkerParams;
  /** Files of at most this many bytes are stored inside their directory node. */
  inlineMax: number;
  /** Directory page sizes (see manifest/paging.ts). */
  paging: PagingParams;
  /**
   * `aes-256-gcm`: every object is encrypted, ids are HMAC-SHA256 and the chunker seed
   * is secret (in the key slots; `chunker.seed` is then the seed applied at open, the
   * config object itself stores 0). `none`: plaintext objects, SHA-256 ids.
   */
  encryption: 'none' | 'aes-256-gcm';
  /** The compression writers use by default (readers handle any). */
  compression: CompressionMode;
}

/** Encryption choices at init. */
export interface EncryptionOptions {
  /** The password of the first key slot. */
  password: string;
  /**
   * Master keys of another repository whose id key and chunker seed the new one shares
   * (`init --copy-params-from`), so the two give equal ids to equal data.
   */
  shareWith?: MasterKeys;
  /** log2 of the scrypt cost of the first slot (default 15). */
  kdfLogN?: number;
}

/**
 * Default chunk sizes, chosen by measurement on eight consecutive typescript releases
 * (docs/design.md has the figures): 64 KiB keeps 79% of the deduplication of 16 KiB
 * chunks with 36% of the objects.
 */
export const DEFAULT_CHUNKER = { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024, level: 1 };
/**
 * Files up to this size are stored inline. It equals the default minimum chunk: a file
 * below it would be a single chunk anyway, so inlining loses no sub-file deduplication,
 * and it keeps trees of small files from becoming one object per file.
 */
export const DEFAULT_INLINE_MAX = 16 * 1024;
/** The largest inline threshold accepted (a page must still hold a few entries). */
export const MAX_INLINE = 64 * 1024;

/** What `init` may choose. */
export interface ConfigOptions {
  chunker?: {
    min?: number;
    avg?: number;
    max?: number;
    level?: number;
    seed?: bigint | string | number;
  };
  inlineMax?: number;
  /** Directory page sizes (default DEFAULT_PAGING). */
  paging?: PagingParams;
  /** Encrypt the repository (default: not encrypted). */
  encryption?: EncryptionOptions;
  /** Default compression of writers (default `off` here; the CLI's default is `auto`). */
  compression?: CompressionMode;
}

/**
 * The choices of an existing repository as ConfigOptions, for `init
 * --copy-params-from`: a repository created with them cuts data identically (chunker
 * parameters and seed), inlines the same files and pages directories the same way, so
 * blobs and tree nodes deduplicate across the two and `sync` can copy between them.
 */
export function paramsOf(config: RepoConfig): ConfigOptions {
  const { min, avg, max, level, seed } = config.chunker;
  return {
    chunker: { min, avg, max, level, seed },
    inlineMax: config.inlineMax,
    paging: { ...config.paging },
    compression: config.compression,
  };
}

/** A fresh config with defaults filled in and every choice validated. */
export function newConfig(options: ConfigOptions = {}): RepoConfig {
  const c = options.chunker ?? {};
  const inlineMax = options.inlineMax ?? DEFAULT_INLINE_MAX;
  if (!Number.isInteger(inlineMax) || inlineMax < 0 || inlineMax > MAX_INLINE) {
    throw new UsageError(
      `inline threshold must be an integer from 0 to ${MAX_INLINE}, got ${inlineMax}`,
    );
  }
  return {
    version: REPO_VERSION,
    id: randomId(),
    created: new Date().toISOString(),
    chunker: chunkerParams({
      min: c.min ?? DEFAULT_CHUNKER.min,
      avg: c.avg ?? DEFAULT_CHUNKER.avg,
      max: c.max ?? DEFAULT_CHUNKER.max,
      level: c.level ?? DEFAULT_CHUNKER.level,
      seed: c.seed ?? 0n,
    }),
    inlineMax,
    paging: checkPaging(options.paging ?? DEFAULT_PAGING),
    encryption: options.encryption ? 'aes-256-gcm' : 'none',
    compression: checkCompression(options.compression ?? 'off', UsageError),
  };
}

function checkCompression(
  value: unknown,
  fail: new (message: string) => Error,
): 'off' | 'auto' | 'max' {
  if (value === 'off' || value === 'auto' || value === 'max') return value;
  throw new fail(`compression must be off, auto or max, got ${JSON.stringify(value)}`);
}

/** Validates paging parameters chosen at init (the same rules as decodeConfig). */
function checkPaging(p: PagingParams): PagingParams {
  const ok =
    [p.min, p.target, p.max].every(Number.isInteger) &&
    p.min >= 1024 &&
    p.min <= p.target &&
    p.target <= p.max &&
    p.max <= 16 * 1024 * 1024;
  if (!ok) {
    throw new UsageError(
      `bad paging parameters ${JSON.stringify(p)}: need 1024 <= min <= target <= max <= 16 MiB`,
    );
  }
  return { min: p.min, target: p.target, max: p.max };
}

/**
 * Serialises a config as pretty JSON (the seed as a decimal string: it is 64-bit). An
 * encrypted repository's config holds no secret: its seed is written as 0.
 */
export function encodeConfig(config: RepoConfig): Uint8Array {
  const json = {
    cairn: 'repository',
    version: config.version,
    id: config.id,
    created: config.created,
    chunker: {
      algorithm: 'fastcdc-v2020',
      min: config.chunker.min,
      avg: config.chunker.avg,
      max: config.chunker.max,
      level: config.chunker.level,
      seed: config.encryption === 'none' ? config.chunker.seed.toString() : '0',
    },
    inlineMax: config.inlineMax,
    paging: config.paging,
    encryption: config.encryption,
    ids: config.encryption === 'none' ? 'sha256' : 'hmac-sha256',
    compression: config.compression,
  };
  return Buffer.from(`${JSON.stringify(json, null, 2)}\n`, 'utf8');
}

/** Parses and validates a config read from `source`. */
export function decodeConfig(bytes: Uint8Array, source: string): RepoConfig {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new FormatError(source, 'the repository config is not valid JSON', { cause: err });
  }
  const o = json as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o.cairn !== 'repository') {
    throw new FormatError(source, 'not a cairn repository config');
  }
  if (o.version !== REPO_VERSION) {
    throw new FormatError(
      source,
      `repository format version ${JSON.stringify(o.version)} is not supported (this cairn reads version ${REPO_VERSION})`,
    );
  }
  if (typeof o.id !== 'string' || !isObjectId(o.id))
    throw new FormatError(source, 'bad repository id');
  if (typeof o.created !== 'string' || Number.isNaN(Date.parse(o.created))) {
    throw new FormatError(source, 'bad creation time');
  }
  const ch = o.chunker as Record<string, unknown> | undefined;
  if (typeof ch !== 'object' || ch === null || ch.algorithm !== 'fastcdc-v2020') {
    throw new FormatError(source, 'unsupported or missing chunker');
  }
  if (typeof ch.seed !== 'string' || !/^\d{1,20}$/.test(ch.seed))
    throw new FormatError(source, 'bad chunker seed');
  let chunker: ChunkerParams;
  try {
    chunker = chunkerParams({
      min: ch.min as number,
      avg: ch.avg as number,
      max: ch.max as number,
      level: ch.level as number,
      seed: BigInt(ch.seed),
    });
  } catch (err) {
    throw new FormatError(source, `bad chunker parameters: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const inlineMax = o.inlineMax;
  if (
    typeof inlineMax !== 'number' ||
    !Number.isInteger(inlineMax) ||
    inlineMax < 0 ||
    inlineMax > MAX_INLINE
  ) {
    throw new FormatError(source, 'bad inlineMax');
  }
  const p = o.paging as Record<string, unknown> | undefined;
  const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  if (
    typeof p !== 'object' ||
    p === null ||
    !int(p.min) ||
    !int(p.target) ||
    !int(p.max) ||
    (p.min as number) < 1024 ||
    (p.min as number) > (p.target as number) ||
    (p.target as number) > (p.max as number) ||
    (p.max as number) > 16 * 1024 * 1024
  ) {
    throw new FormatError(source, 'bad paging parameters');
  }
  // Configs written before encryption and compression existed have neither field.
  const encryption = o.encryption ?? 'none';
  if (encryption !== 'none' && encryption !== 'aes-256-gcm') {
    throw new FormatError(source, `unsupported encryption ${JSON.stringify(encryption)}`);
  }
  const compression = o.compression ?? 'off';
  if (compression !== 'off' && compression !== 'auto' && compression !== 'max') {
    throw new FormatError(source, `unsupported compression ${JSON.stringify(compression)}`);
  }
  return {
    version: REPO_VERSION,
    id: o.id,
    created: o.created,
    chunker,
    inlineMax,
    paging: { min: p.min as number, target: p.target as number, max: p.max as number },
    encryption,
    compression,
  };
}

/** True when two configs cut data identically, so their blobs deduplicate. */
export function sameChunking(a: RepoConfig, b: RepoConfig): boolean {
  return (
    a.chunker.min === b.chunker.min &&
    a.chunker.avg === b.chunker.avg &&
    a.chunker.max === b.chunker.max &&
    a.chunker.level === b.chunker.level &&
    a.chunker.seed === b.chunker.seed
  );
}
