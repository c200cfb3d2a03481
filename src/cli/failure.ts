/**
 * What the CLI says about an error that ends a command, on stderr and as the `--json`
 * error event. cairn's own errors carry their stable code. A file system error (an
 * errno code: a restore target that is a file, a cache folder that cannot be written) is
 * told as the path and the cause, with code `io`, not as a stack trace. Anything else is
 * a bug: its message, and where it happened with CAIRN_DEBUG=1.
 */
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

/** Causes of the errno codes people meet most, in words. */
const CAUSES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EEXIST: 'already exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ENOTEMPTY: 'directory not empty',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'name too long',
  EIO: 'input/output error',
  EBUSY: 'resource busy',
  EXDEV: 'on another file system',
  EINVAL: 'invalid argument',
};

/** How `err` is reported. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof CairnError) return { code: err.code, message: err.message, internal: false };
  const e = err as NodeJS.ErrnoException & { dest?: string };
  if (e instanceof Error && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) {
    const path = e.path === undefined ? undefined : String(e.path);
    const action = e.syscall ? `cannot ${e.syscall}` : 'cannot';
    const where =
      path === undefined ? action : `${action} ${path}${e.dest ? ` -> ${String(e.dest)}` : ''}`;
    return {
      code: 'io',
      message: `${where}: ${CAUSES[e.code] ?? 'system error'} (${e.code})`,
      errno: e.code,
      ...(path !== undefined ? { path } : {}),
      internal: false,
    };
  }
  return {
    code: 'internal',
    message: e instanceof Error ? e.message : String(err),
    internal: true,
  };
}

/** The stderr text for `failure` (`err` is the original error, for its stack). */
export function failureText(failure: Failure, err: unknown, debug: boolean): string {
  if (!failure.internal) return failure.message;
  if (debug && err instanceof Error && err.stack) return `internal error: ${err.stack}`;
  return `internal error: ${failure.message} (run with CAIRN_DEBUG=1 to see where)`;
}
