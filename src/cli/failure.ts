/**
 * What the CLI says about an error that ends a command, on stderr and as the `--json`
 * error event. cairn's own errors carry their stable code. A file system error (an
 * errno code: a restore target that is a file, a cache folder that cannot be written) is
 * told as the path and the cause, with code `io`, not as a stack trace. Anything else is
 * a bug: its message, and where it happened with CAIRN_DEBUG=1.
 */
import { describeErrno, isErrnoError } from '../core/errno.js';
import { CairnError } from '../core/errors.js';

/** An error as the CLI reports it. */
export interface Failure {
  /** The stable code of the `--json` error event. */
  code: string;
  message: string;
  /** The errno code of a file system error (EACCES...). */
  errno?: string;
  /** The path a file system error names. */
  path?: string;
  /** Not an error cairn expects: a bug. */
  internal: boolean;
}

/** How `err` is reported. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof CairnError) return { code: err.code, message: err.message, internal: false };
  if (isErrnoError(err)) {
    const path = err.path === undefined ? undefined : String(err.path);
    return {
      code: 'io',
      message: describeErrno(err),
      errno: err.code,
      ...(path !== undefined ? { path } : {}),
      internal: false,
    };
  }
  return {
    code: 'internal',
    message: err instanceof Error ? err.message : String(err),
    internal: true,
  };
}

/** The stderr text for `failure` (`err` is the original error, for its stack). */
export function failureText(failure: Failure, err: unknown, debug: boolean): string {
  if (!failure.internal) return failure.message;
  if (debug && err instanceof Error && err.stack) return `internal error: ${err.stack}`;
  return `internal error: ${failure.message} (run with CAIRN_DEBUG=1 to see where)`;
}
