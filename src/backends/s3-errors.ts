/**
 * Translation of S3 SDK and network failures into cairn errors.
 *
 * This works on the shape of the thrown value (`name`, `code`, `$metadata`), so it needs
 * no SDK import. Rules, in order: an already-translated CairnError passes through; a
 * fired signal gives `aborted`; a missing key gives `not-found`; throttling, 5xx and
 * broken connections give a retryable `backend` error; everything else (403, 400...)
 * is a non-retryable `backend` error whose message names the S3 error and HTTP status,
 * because RGW and others send error bodies without a `<Message>`.
 */
import { AbortedError, BackendError, CairnError, NotFoundError } from '../core/errors.js';
import { RETRYABLE_NET_CODES, RETRYABLE_NET_MESSAGES } from './net-errors.js';

/** What a failing call was doing, for messages and for the not-found decision. */
export interface S3CallContext {
  /** The operation, e.g. `GET`, `PUT`, `LIST`. */
  op: string;
  /** What it acted on, e.g. `bucket/prefix/key`, shown in messages. */
  target: string;
  /** The backend-relative key; when set, a 404 means this key is missing. */
  key?: string;
  /** The caller's signal; when it has fired, any failure is reported as `aborted`. */
  signal?: AbortSignal | undefined;
}

/** HTTP statuses after which repeating the same request may succeed. */
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** S3 error names that are transient whatever their status says. */
const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  // 409s: a concurrent conditional write or bucket operation; a retry settles it.
  'ConditionalRequestConflict',
  'OperationAborted',
  // The body arrived damaged or short: the bytes in memory are fine, send again.
  'BadDigest',
  'IncompleteBody',
  'XAmzContentSHA256Mismatch',
  'TimeoutError',
]);

const RETRYABLE_CODES = RETRYABLE_NET_CODES;
const RETRYABLE_MESSAGES = RETRYABLE_NET_MESSAGES;

/** Hints appended to messages of common non-retryable failures. */
const HINTS: Record<string, string> = {
  SignatureDoesNotMatch: 'check the secret key',
  InvalidAccessKeyId: 'check the access key',
  AccessDenied: 'check the credentials and the bucket policy',
  NoSuchBucket: 'the bucket does not exist (cairn init can create it)',
  PermanentRedirect: 'the bucket is in another region; set AWS_REGION',
  AuthorizationHeaderMalformed: 'check the region (AWS_REGION)',
  CredentialsProviderError:
    'no credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE',
};

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** The HTTP status of an SDK error, if it got as far as a response. */
export function s3Status(err: unknown): number | undefined {
  const status = (err as ErrorShape | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The S3 error name (`NoSuchKey`, `SlowDown`...) or JS error name of a thrown value. */
export function s3ErrorName(err: unknown): string {
  const name = (err as ErrorShape | undefined)?.name;
  return typeof name === 'string' ? name : 'Error';
}

/** True when `err` is a broken or timed-out connection, looking through `cause`s. */
function isNetworkFailure(err: unknown): boolean {
  for (let e = err as ErrorShape | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && RETRYABLE_CODES.has(e.code)) return true;
    if (typeof e.message === 'string' && RETRYABLE_MESSAGES.test(e.message)) return true;
    e = e.cause as ErrorShape | undefined;
  }
  return false;
}

/** Converts any failure of an S3 call into the CairnError the Backend contract asks for. */
export function translateS3Error(err: unknown, ctx: S3CallContext): CairnError {
  if (err instanceof CairnError) return err;
  const name = s3ErrorName(err);
  if (ctx.signal?.aborted || name === 'AbortError') {
    return new AbortedError(`s3 ${ctx.op} ${ctx.target}: aborted`, { cause: err });
  }
  const status = s3Status(err);
  const where = `s3 ${ctx.op} ${ctx.target}`;
  const detail = describe(err, name, status);

  if (name === 'NoSuchBucket') {
    return new BackendError(`${where}: ${detail}`, { retryable: false, status, cause: err });
  }
  if (ctx.key !== undefined && (status === 404 || name === 'NoSuchKey' || name === 'NotFound')) {
    return new NotFoundError(ctx.key, `not found: ${ctx.target} (${detail})`, { cause: err });
  }
  const retryable =
    RETRYABLE_NAMES.has(name) ||
    (status !== undefined && RETRYABLE_STATUS.has(status)) ||
    (err as ErrorShape | undefined)?.$retryable !== undefined ||
    isNetworkFailure(err);
  return new BackendError(`${where}: ${detail}`, { retryable, status, cause: err });
}

/** Hints by HTTP status, for errors whose name says nothing (HEAD answers have no body). */
const STATUS_HINTS: Record<number, string> = {
  401: 'access denied; check the access key and secret key',
  403: 'access denied; check the access key, secret key and bucket permissions',
};

/** `Name (HTTP 403): message; hint`, leaving out the parts that add nothing. */
function describe(err: unknown, name: string, status: number | undefined): string {
  const raw = (err as ErrorShape | undefined)?.message;
  const message = typeof raw === 'string' ? raw.trim() : '';
  const code = (err as ErrorShape | undefined)?.code;
  const generic = name === 'Error' || name === 'Unknown' || name === 'UnknownError';
  const parts: string[] = [];
  if (!generic) parts.push(name);
  if (typeof code === 'string' && code !== name) parts.push(code);
  if (status !== undefined) parts.push(`(HTTP ${status})`);
  let text = parts.join(' ') || 'error';
  if (message !== '' && message !== name && !/^Unknown(Error)?$/.test(message)) {
    text += `: ${message}`;
  }
  const hint = HINTS[name] ?? (status !== undefined ? STATUS_HINTS[status] : undefined);
  if (hint !== undefined) text += `; ${hint}`;
  return text;
}
