/**
 * Errors with stable machine-readable codes.
 *
 * Messages may change between versions; `code` never does. Layers above the backends
 * branch on `code` (or `instanceof`), never on messages or SDK error shapes.
 */
import { describeErrno, isErrnoError } from './errno.js';

/** Every stable error code cairn uses. */
export type ErrorCode =
  | 'not-found'
  | 'integrity'
  | 'format'
  | 'locked'
  | 'backend'
  | 'usage'
  | 'exists'
  | 'mismatch'
  | 'auth'
  | 'aborted'
  | 'io'
  | 'unsupported';

/** Base class: a message for people, a stable `code` for programs, and an optional cause. */
export class CairnError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An object, snapshot, path or key that does not exist. */
export class NotFoundError extends CairnError {
  /** What was looked for: a backend key, snapshot selector, path... */
  readonly what: string;
  constructor(what: string, message?: string, options?: { cause?: unknown }) {
    super('not-found', message ?? `not found: ${what}`, options);
    this.what = what;
  }
}

/** Stored bytes do not hash to the id they are stored under, or fail authentication. */
export class IntegrityError extends CairnError {
  readonly objectId: string;
  readonly actual: string | undefined;
  constructor(objectId: string, message: string, actual?: string) {
    super('integrity', message);
    this.objectId = objectId;
    this.actual = actual;
  }
}

/** Bytes read from a repository (or a config) that do not follow the format. */
export class FormatError extends CairnError {
  /** The object or file the bad bytes came from. */
  readonly source: string;
  constructor(source: string, problem: string, options?: { cause?: unknown }) {
    super('format', `${source}: ${problem}`, options);
    this.source = source;
  }
}

/** A lock held by another process prevents the operation. */
export class LockedError extends CairnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('locked', message, options);
  }
}

/** A storage call failed. `retryable` says whether repeating the same call may succeed. */
export class BackendError extends CairnError {
  readonly retryable: boolean;
  readonly status: number | undefined;
  constructor(
    message: string,
    options: { retryable: boolean; status?: number; cause?: unknown } = { retryable: false },
  ) {
    super('backend', message, { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
  }
}

/** The caller asked for something invalid: bad option values, bad selector syntax... */
export class UsageError extends CairnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('usage', message, options);
  }
}

/** Something already exists where a new one was to be created (a repository, a key...). */
export class ExistsError extends CairnError {
  constructor(message: string) {
    super('exists', message);
  }
}

/** Two repositories or objects that must agree do not (chunker params, format versions). */
export class MismatchError extends CairnError {
  constructor(message: string) {
    super('mismatch', message);
  }
}

/** A password (or key) that opens nothing: no key slot of the repository accepts it. */
export class AuthError extends CairnError {
  constructor(message: string) {
    super('auth', message);
  }
}

/** The operation was cancelled through its AbortSignal. */
export class AbortedError extends CairnError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super('aborted', message, options);
  }
}

/** True when `err` is a CairnError with the given code. */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return err instanceof CairnError && err.code === code;
}

/**
 * A short human-readable description of any thrown value; a failed system call is told
 * as `cannot open PATH: permission denied (EACCES)` (see errno.ts), without the PATH
 * when `withPath` is false (for a warning that names the path already).
 */
export function describeError(err: unknown, withPath = true): string {
  if (isErrnoError(err)) return describeErrno(err, withPath);
  if (err instanceof Error) return err.message;
  return String(err);
}
