/**
 * Translation of HTTP answers and network failures into cairn errors, for the
 * read-only HTTP backend.
 *
 * Rules: a fired signal gives `aborted`; 404 and 410 give `not-found` naming the key
 * and URL; 401/403 are non-retryable "access denied"; 408, 429 and 5xx (except 501 and
 * 505, which will not change) are retryable, like broken or timed-out connections; any
 * other status is a non-retryable `backend` error naming it.
 */
import { AbortedError, BackendError, CairnError, NotFoundError } from '../core/errors.js';
import { RETRYABLE_NET_CODES, RETRYABLE_NET_MESSAGES } from './net-errors.js';

/** What a failing request was doing, for messages. */
export interface HttpCallContext {
  /** `GET` or `HEAD`. */
  method: string;
  /** The backend key. */
  key: string;
  /** The printable URL (credentials masked). */
  url: string;
  /** The caller's signal; once it has fired any failure is reported as `aborted`. */
  signal?: AbortSignal | undefined;
}

/** Statuses after which the same request may succeed later. */
const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504, 507, 520, 521, 522, 523, 524]);

const RETRYABLE_CODES = RETRYABLE_NET_CODES;
const RETRYABLE_MESSAGES = RETRYABLE_NET_MESSAGES;

/** Short explanations of codes people meet, appended to messages. */
const CODE_HINTS: Record<string, string> = {
  ENOTFOUND: 'the host name does not resolve',
  ECONNREFUSED: 'nothing is listening there',
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server uses a self-signed TLS certificate',
  SELF_SIGNED_CERT_IN_CHAIN: "the server's TLS certificate chain is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's TLS certificate cannot be verified",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's TLS certificate is for another host name",
};

interface ErrorShape {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** True when `status` is worth retrying. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** The error for an unexpected HTTP status (a final answer, not a redirect). */
export function statusError(status: number, ctx: HttpCallContext): CairnError {
  const where = `http ${ctx.method} ${ctx.url}`;
  if (status === 404 || status === 410) {
    return new NotFoundError(ctx.key, `not found: ${ctx.key} at ${ctx.url} (HTTP ${status})`);
  }
  if (status === 401 || status === 403) {
    const hint =
      status === 401
        ? 'the server wants credentials: put them in the URL (https://USER:PASSWORD@host/path)'
        : 'check the credentials and the server’s access rules';
    return new BackendError(`access denied (HTTP ${status}) for ${ctx.url}; ${hint}`, {
      retryable: false,
      status,
    });
  }
  const retryable = isRetryableStatus(status);
  return new BackendError(`${where}: HTTP ${status}${retryable ? ' (temporary)' : ''}`, {
    retryable,
    status,
  });
}

/** The first string `code` along `err`'s cause chain. */
function errorCode(err: unknown): string | undefined {
  for (let e = err as ErrorShape | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as ErrorShape | undefined;
  }
  return undefined;
}

/** True when `err` is a broken or timed-out connection, looking through `cause`s. */
export function isNetworkFailure(err: unknown): boolean {
  for (let e = err as ErrorShape | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && RETRYABLE_CODES.has(e.code)) return true;
    if (typeof e.message === 'string' && RETRYABLE_MESSAGES.test(e.message)) return true;
    e = e.cause as ErrorShape | undefined;
  }
  return false;
}

/** Converts any failure of a request into the CairnError the Backend contract asks for. */
export function translateHttpError(err: unknown, ctx: HttpCallContext): CairnError {
  if (ctx.signal?.aborted) {
    return err instanceof AbortedError
      ? err
      : new AbortedError(`http ${ctx.method} ${ctx.url}: aborted`, { cause: err });
  }
  if (err instanceof CairnError) return err;
  const code = errorCode(err);
  const raw = (err as ErrorShape | undefined)?.message;
  const message = typeof raw === 'string' && raw !== '' ? raw : String(err);
  const hint = code !== undefined ? CODE_HINTS[code] : undefined;
  return new BackendError(
    `http ${ctx.method} ${ctx.url}: ${message}${hint !== undefined ? `; ${hint}` : ''}`,
    { retryable: isNetworkFailure(err), cause: err },
  );
}
