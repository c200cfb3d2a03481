/**
 * The S3 backend: Amazon S3 and S3-compatible services (Ceph RGW, MinIO, R2, B2...).
 *
 * This is the only file in cairn that imports the AWS SDK; open.ts loads it lazily so
 * commands that never touch S3 do not pay for loading the SDK.
 *
 * Client settings, and why:
 * - request/response checksums only WHEN_REQUIRED: since SDK 3.729 the defaults send
 *   CRC32 headers and `aws-chunked` trailers that RGW, R2 and B2 reject. Instead every
 *   PUT carries a Content-MD5, which all of them verify;
 * - DeleteObjects gets Content-MD5 instead of the SDK's CRC32 (a build-step middleware),
 *   because several S3-compatible servers require Content-MD5 there;
 * - keep-alive agents sized for parallel transfers, connect/request/idle timeouts;
 * - SDK retries off by default (`maxAttempts: 1`): cairn's RetryBackend wrapper owns
 *   retries, so errors are classified here (see s3-errors.ts) instead.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { throwIfAborted } from '../core/abort.js';
import { BackendError, UsageError } from '../core/errors.js';
import type {
  Backend,
  BackendCapabilities,
  CallOptions,
  GetOptions,
  ObjectInfo,
  PutOptions,
} from './backend.js';
import { checkKey, checkPrefix, isValidKey } from './keys.js';
import { checkRangeOptions } from './range.js';
import { s3ErrorName, s3Status, translateS3Error } from './s3-errors.js';
import { checkStorageClass, storageClassRefusal } from './s3-storage-class.js';
import { parseS3Endpoint, parseS3Url } from './s3-url.js';

/** Static credentials; without them the SDK's default chain (env, profile, SSO, IMDS) is used. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Settings that a URL cannot express; every field is optional. */
export interface S3BackendOverrides {
  /** `http(s)://host[:port]` of an S3-compatible service (overrides the URL's). */
  endpoint?: string;
  /** Region; default from AWS_REGION / the profile, else `us-east-1`. */
  region?: string;
  /** Static credentials instead of the default provider chain. */
  credentials?: S3Credentials;
  /** Path-style addressing; default true with a custom endpoint, false for AWS. */
  forcePathStyle?: boolean;
  /** Connections kept per host; keep it at or above the transfer concurrency. Default 64. */
  maxSockets?: number;
  /** Time allowed to establish a connection. Default 10 s. */
  connectionTimeoutMs?: number;
  /** Time allowed from sending a request to the response headers (uploads included). Default 120 s. */
  requestTimeoutMs?: number;
  /** Time a connection may sit idle mid-request before it is dropped. Default 60 s. */
  idleTimeoutMs?: number;
  /** Attempts the SDK itself makes; cairn's RetryBackend retries on top. Default 1. */
  maxAttempts?: number;
  /**
   * Whether the server honours `If-None-Match: *` on PUT (AWS since 2024, Ceph RGW,
   * R2 do; MinIO of 2024 ignored it). Default true. When false, `put` with
   * `ifNotExists` checks with HEAD first and is not atomic.
   */
  atomicCreate?: boolean;
  /**
   * Storage class of blobs (puts with `blob`: `data/` and `tree/` objects), such as
   * `STANDARD_IA` or `INTELLIGENT_TIERING`; every other object stays in the bucket's
   * default. Classes whose objects cannot be read without a restore request (`GLACIER`,
   * `DEEP_ARCHIVE`) are refused: restore, check and backup read blobs back.
   */
  storageClass?: string;
  /** Keys per ListObjectsV2 page (1..1000, default 1000); small values are for tests. */
  listPageSize?: number;
  /** Keys per DeleteObjects request (1..1000, default 1000); small values are for tests. */
  deleteBatchSize?: number;
}

/** Everything the constructor needs: a parsed location plus overrides. */
export interface S3BackendOptions extends S3BackendOverrides {
  bucket: string;
  /** Key prefix inside the bucket: empty, or ending with '/'. */
  prefix: string;
  /** Printable location for messages. */
  location: string;
}

/** Keys per ListObjectsV2 page and per DeleteObjects request: the S3 maximum. */
const S3_BATCH_MAX = 1000;

/** A Backend on an S3 bucket, under a key prefix. */
export class S3Backend implements Backend {
  readonly location: string;
  readonly capabilities: BackendCapabilities;
  /** The bucket this backend stores into. */
  readonly bucket: string;
  /** The key prefix inside the bucket ('' or ending with '/'). */
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly agents: [http.Agent, https.Agent];
  private readonly listPageSize: number;
  private readonly deleteBatchSize: number;
  private readonly storageClass: string | undefined;
  /** Set once a call proved that the bucket exists. */
  private bucketSeen = false;

  /**
   * Opens `s3:BUCKET/PREFIX` (Amazon S3) or `s3:http(s)://HOST:PORT/BUCKET/PREFIX` (any
   * S3-compatible service, path-style). Credentials come from `overrides` or the SDK's
   * default chain (AWS_ACCESS_KEY_ID/..., AWS_PROFILE, shared config files). For the
   * first form `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` select another service.
   * Throws UsageError for a malformed location. Does not contact the server.
   */
  static fromUrl(location: string, overrides: S3BackendOverrides = {}): S3Backend {
    const parsed = parseS3Url(location);
    const envName = process.env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : 'AWS_ENDPOINT_URL';
    const fromEnv = process.env[envName];
    let endpoint = parsed.endpoint;
    if (overrides.endpoint !== undefined) {
      endpoint = parseS3Endpoint(overrides.endpoint, 'the endpoint override');
    } else if (endpoint === undefined && fromEnv) {
      endpoint = parseS3Endpoint(fromEnv, envName);
    }
    return new S3Backend({
      ...overrides,
      bucket: parsed.bucket,
      prefix: parsed.prefix,
      location: endpoint === undefined ? parsed.location : `s3:${endpoint}/${parsed.path}`,
      ...(endpoint !== undefined ? { endpoint } : {}),
    });
  }

  constructor(options: S3BackendOptions) {
    if (options.prefix !== '' && !options.prefix.endsWith('/')) {
      throw new UsageError(`S3 prefix must be empty or end with '/': ${options.prefix}`);
    }
    this.listPageSize = batchSize('listPageSize', options.listPageSize);
    this.deleteBatchSize = batchSize('deleteBatchSize', options.deleteBatchSize);
    this.storageClass =
      options.storageClass === undefined ? undefined : checkStorageClass(options.storageClass);
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.location = options.location;
    this.capabilities = {
      writable: true,
      listable: true,
      atomicCreate: options.atomicCreate ?? true,
    };
    const custom = options.endpoint !== undefined;
    const agentOptions = {
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: options.maxSockets ?? 64,
      // Reuse the most recently used socket first: idle ones then expire instead of all
      // being kept barely alive, which is when servers close them under our feet.
      scheduling: 'lifo' as const,
    };
    this.agents = [new http.Agent(agentOptions), new https.Agent(agentOptions)];
    const config: S3ClientConfig = {
      region: options.region ?? defaultRegion(custom),
      forcePathStyle: options.forcePathStyle ?? custom,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: options.maxAttempts ?? 1,
      // Amazon answers a wrong region with a redirect; follow it instead of failing.
      followRegionRedirects: !custom,
      // Objects are small enough that a 100-continue round trip only adds latency.
      expectContinueHeader: false,
      requestHandler: {
        httpAgent: this.agents[0],
        httpsAgent: this.agents[1],
        connectionTimeout: options.connectionTimeoutMs ?? 10_000,
        requestTimeout: options.requestTimeoutMs ?? 120_000,
        throwOnRequestTimeout: true,
        socketTimeout: options.idleTimeoutMs ?? 60_000,
      },
    };
    if (options.endpoint !== undefined) config.endpoint = options.endpoint;
    if (options.credentials !== undefined) config.credentials = options.credentials;
    // The SDK warns on Node < 22 about its releases after 2027; cairn supports Node 20
    // with the SDK version it ships, so that warning would only be noise for users.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client(config);
  }

  /** Reads an object or a byte range of it; the body length is checked against Content-Length. */
  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    checkKey(key);
    const { signal } = options;
    const offset = options.offset ?? 0;
    const length = options.length;
    checkRangeOptions(key, options);
    if (length === 0) {
      // HTTP ranges cannot be empty: check the offset against the size instead.
      await this.checkOffset(key, offset, signal);
      return new Uint8Array(0);
    }
    const ctx = this.ctx('GET', key, signal);
    const ranged = offset > 0 || length !== undefined;
    const range = ranged
      ? `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`
      : undefined;
    let res: GetObjectCommandOutput;
    try {
      throwIfAborted(signal);
      res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Range: range }),
        { abortSignal: signal },
      );
      this.bucketSeen = true;
    } catch (err) {
      if (s3Status(err) === 416 || s3ErrorName(err) === 'InvalidRange') {
        // Past the end, or any range of an empty object: decide from the size.
        await this.checkOffset(key, offset, signal);
        return new Uint8Array(0);
      }
      throw translateS3Error(err, ctx);
    }
    const body = await readBody(res.Body, ctx);
    const expected = res.ContentLength;
    if (expected !== undefined && body.length !== expected) {
      throw new BackendError(
        `s3 GET ${ctx.target}: body truncated, got ${body.length} of ${expected} bytes`,
        { retryable: true },
      );
    }
    if (!ranged) return body;
    if (res.ContentRange === undefined) {
      // The server ignored Range and sent the whole object.
      if (offset > body.length) throw pastEnd(ctx.target, offset, body.length);
      return body.subarray(offset, length === undefined ? undefined : offset + length);
    }
    const start = /^bytes (\d+)-/.exec(res.ContentRange)?.[1];
    if (start === undefined || Number(start) !== offset) {
      throw new BackendError(
        `s3 GET ${ctx.target}: asked for bytes from ${offset}, got Content-Range "${res.ContentRange}"`,
        { retryable: true },
      );
    }
    return body;
  }

  /**
   * Stores an object with a Content-MD5 the server verifies. With `ifNotExists` sends
   * `If-None-Match: *` and resolves false on 412. (If an attempt landed but its response
   * was lost, a retried put sees 412; RetryBackend resolves that case by reading back.)
   */
  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<boolean> {
    checkKey(key);
    const { signal, ifNotExists = false } = options;
    const ctx = this.ctx('PUT', key, signal);
    if (ifNotExists && !this.capabilities.atomicCreate && (await this.exists(key, signal))) {
      return false;
    }
    try {
      throwIfAborted(signal);
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: data,
          ContentLength: data.byteLength,
          ContentMD5: createHash('md5').update(data).digest('base64'),
          ContentType: 'application/octet-stream',
          IfNoneMatch: ifNotExists ? '*' : undefined,
          StorageClass: options.blob ? (this.storageClass as StorageClass | undefined) : undefined,
        }),
        { abortSignal: signal },
      );
      this.bucketSeen = true;
      return true;
    } catch (err) {
      if (ifNotExists && (s3Status(err) === 412 || s3ErrorName(err) === 'PreconditionFailed')) {
        return false;
      }
      if (options.blob && this.storageClass !== undefined) {
        const refused = storageClassRefusal(err);
        if (refused === 'certain') {
          throw new UsageError(
            `${translateS3Error(err, ctx).message}: the server does not offer storage class ${this.storageClass} (-o s3.storage-class)`,
            { cause: err },
          );
        }
        if (refused === 'possible') {
          throw new BackendError(
            `${translateS3Error(err, ctx).message} (perhaps storage class ${this.storageClass}, -o s3.storage-class, which the server may not offer)`,
            { retryable: false, cause: err },
          );
        }
      }
      throw translateS3Error(err, ctx);
    }
  }

  /** Size of an object (HEAD). */
  async stat(key: string, options: CallOptions = {}): Promise<ObjectInfo> {
    checkKey(key);
    const ctx = this.ctx('HEAD', key, options.signal);
    try {
      throwIfAborted(options.signal);
      const res = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        { abortSignal: options.signal },
      );
      this.bucketSeen = true;
      return { key, size: res.ContentLength ?? 0 };
    } catch (err) {
      const translated = translateS3Error(err, ctx);
      // A HEAD 404 has no body, so a missing bucket looks like a missing key: check the
      // bucket once, so that a wrong bucket name is not read as an empty repository.
      if (translated.code === 'not-found' && !this.bucketSeen) await this.checkBucket(ctx);
      throw translated;
    }
  }

  /**
   * Every object under `prefix`, by ListObjectsV2 pages of up to 1000 keys. Keys are
   * relative to the backend's prefix; keys that are not valid cairn keys (folder markers
   * ending in '/', foreign files) are skipped.
   */
  async *list(prefix: string, options: CallOptions = {}): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    const { signal } = options;
    const ctx = { op: 'LIST', target: `${this.bucket}/${this.prefix}${prefix}`, signal };
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        throwIfAborted(signal);
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
            MaxKeys: this.listPageSize,
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        throw translateS3Error(err, ctx);
      }
      for (const object of page.Contents ?? []) {
        const full = object.Key;
        if (full === undefined || !full.startsWith(this.prefix)) continue;
        const key = full.slice(this.prefix.length);
        // Like the local backend, skip what cairn cannot have written (folder markers...).
        if (isValidKey(key)) yield { key, size: object.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && token === undefined) {
        throw new BackendError(
          `s3 LIST ${ctx.target}: truncated page without a continuation token`,
          {
            retryable: true,
          },
        );
      }
    } while (token !== undefined);
  }

  /** Removes an object; a missing one is fine (S3 answers 204 either way). */
  async delete(key: string, options: CallOptions = {}): Promise<void> {
    checkKey(key);
    const ctx = this.ctx('DELETE', key, options.signal);
    try {
      throwIfAborted(options.signal);
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        { abortSignal: options.signal },
      );
    } catch (err) {
      const translated = translateS3Error(err, ctx);
      if (translated.code !== 'not-found') throw translated;
    }
  }

  /**
   * Removes many objects with DeleteObjects, 1000 per request (`deleteBatchSize`).
   * Missing keys are fine.
   * Rejects with a `backend` error naming the first keys the server refused.
   */
  async deleteMany(keys: Iterable<string>, options: CallOptions = {}): Promise<void> {
    const all = [...keys].map(checkKey);
    for (let i = 0; i < all.length; i += this.deleteBatchSize) {
      const batch = all.slice(i, i + this.deleteBatchSize);
      const ctx = {
        op: 'DELETE-MANY',
        target: `${this.bucket}/${this.prefix}{${batch.length} keys}`,
        signal: options.signal,
      };
      let failures: Array<{ Key?: string; Code?: string }>;
      try {
        throwIfAborted(options.signal);
        const command = new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((key) => ({ Key: this.prefix + key })), Quiet: true },
        });
        // The middleware only touches headers and body; the SDK's generic types add nothing here.
        command.middlewareStack.add(contentMd5Middleware as never, CONTENT_MD5_MIDDLEWARE);
        const res = await this.client.send(command, { abortSignal: options.signal });
        failures = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      } catch (err) {
        throw translateS3Error(err, ctx);
      }
      if (failures.length > 0) {
        const shown = failures.slice(0, 3).map((e) => `${e.Key} (${e.Code})`);
        const retryable = failures.every((e) =>
          ['InternalError', 'SlowDown', 'ServiceUnavailable'].includes(e.Code ?? ''),
        );
        throw new BackendError(
          `s3 DELETE-MANY ${this.bucket}: ${failures.length} keys not deleted: ${shown.join(', ')}`,
          { retryable },
        );
      }
    }
  }

  /** Creates the bucket if it does not exist. Resolves true if it was created. */
  async ensureBucket(options: CallOptions = {}): Promise<boolean> {
    const ctx = { op: 'CREATE-BUCKET', target: this.bucket, signal: options.signal };
    try {
      throwIfAborted(options.signal);
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), {
        abortSignal: options.signal,
      });
      return false;
    } catch (err) {
      if (s3Status(err) !== 404) throw translateS3Error(err, ctx);
    }
    try {
      const region = await this.client.config.region();
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // us-east-1 is the default and must not be named; others must be.
          CreateBucketConfiguration:
            region === 'us-east-1' ? undefined : { LocationConstraint: region as never },
        }),
        { abortSignal: options.signal },
      );
      return true;
    } catch (err) {
      if (s3ErrorName(err) === 'BucketAlreadyOwnedByYou') return false;
      throw translateS3Error(err, ctx);
    }
  }

  /** Closes the client's connections. */
  async close(): Promise<void> {
    this.client.destroy();
    for (const agent of this.agents) agent.destroy();
  }

  /** Throws a non-retryable error if the bucket does not exist; remembers when it does. */
  private async checkBucket(ctx: {
    target: string;
    signal: AbortSignal | undefined;
  }): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), {
        abortSignal: ctx.signal,
      });
      this.bucketSeen = true;
    } catch (err) {
      if (s3Status(err) !== 404) {
        throw translateS3Error(err, { op: 'HEAD-BUCKET', target: this.bucket, signal: ctx.signal });
      }
      throw new BackendError(
        `s3 HEAD ${ctx.target}: bucket ${this.bucket} does not exist (HTTP 404); cairn init can create it`,
        { retryable: false, status: 404, cause: err },
      );
    }
  }

  /** True when `key` exists. */
  private async exists(key: string, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      await this.stat(key, { signal });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'not-found') return false;
      throw err;
    }
  }

  /** After a 416 or an empty range: ok if `offset` is at most the size, else non-retryable. */
  private async checkOffset(key: string, offset: number, signal?: AbortSignal): Promise<void> {
    const { size } = await this.stat(key, { signal });
    if (offset > size) throw pastEnd(`${this.bucket}/${this.prefix}${key}`, offset, size);
  }

  private ctx(op: string, key: string, signal: AbortSignal | undefined) {
    return { op, target: `${this.bucket}/${this.prefix}${key}`, key, signal };
  }
}

/** Checks a batch-size override: an integer in 1..1000 (default 1000). */
function batchSize(name: string, value: number | undefined): number {
  if (value === undefined) return S3_BATCH_MAX;
  if (!Number.isInteger(value) || value < 1 || value > S3_BATCH_MAX) {
    throw new UsageError(`${name} must be an integer from 1 to ${S3_BATCH_MAX}, got ${value}`);
  }
  return value;
}

/** The region provider: the AWS chain for Amazon (falling back to us-east-1), else us-east-1. */
function defaultRegion(custom: boolean): string | (() => Promise<string>) {
  const env = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION;
  if (env) return env;
  if (custom) return 'us-east-1';
  let resolved: Promise<string> | undefined;
  return () => {
    // A throwaway client resolves the region from the profile; when none is
    // configured the SDK throws, and S3's historical default applies.
    resolved ??= (async () => {
      const probe = new S3Client({});
      try {
        return await probe.config.region();
      } catch {
        return 'us-east-1';
      } finally {
        probe.destroy();
      }
    })();
    return resolved;
  };
}

function pastEnd(target: string, offset: number, size: number): BackendError {
  return new BackendError(`s3 GET ${target}: offset ${offset} is past the end (size ${size})`, {
    retryable: false,
    status: 416,
  });
}

/** Collects a GetObject body, stopping early when the caller's signal fires. */
async function readBody(
  body: unknown,
  ctx: { op: string; target: string; key: string; signal: AbortSignal | undefined },
): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array(0);
  const stream = body as Readable & { transformToByteArray(): Promise<Uint8Array> };
  const { signal } = ctx;
  const onAbort = () => stream.destroy(new Error('aborted by caller'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    throwIfAborted(signal);
    return await stream.transformToByteArray();
  } catch (err) {
    // A body cut short is never a missing key, whatever the status said.
    throw translateS3Error(err, { ...ctx, key: undefined });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

interface BuildArgs {
  request?: { headers?: Record<string, string>; body?: unknown };
}

/**
 * Replaces the SDK's `x-amz-checksum-*` on DeleteObjects with Content-MD5, which S3
 * requires there and which S3-compatible servers (MinIO and others) insist on.
 * Runs late in the build step, after the SDK's checksum middleware.
 */
function contentMd5Middleware(next: (args: BuildArgs) => Promise<unknown>) {
  return async (args: BuildArgs) => {
    const request = args.request;
    const headers = request?.headers;
    const body = request?.body;
    if (headers && (typeof body === 'string' || body instanceof Uint8Array)) {
      for (const name of Object.keys(headers)) {
        const lower = name.toLowerCase();
        if (lower.startsWith('x-amz-checksum-') || lower === 'x-amz-sdk-checksum-algorithm') {
          delete headers[name];
        }
      }
      headers['content-md5'] = createHash('md5').update(body).digest('base64');
    }
    return next(args);
  };
}

const CONTENT_MD5_MIDDLEWARE = {
  step: 'build',
  priority: 'low',
  name: 'cairnDeleteObjectsContentMd5',
  override: true,
} as const;
