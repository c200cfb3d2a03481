/**
 * Words for the errno codes of Node's file-system errors, so every layer tells a failed
 * system call the same way: `cannot open /x/y: permission denied (EACCES)` rather than
 * Node's `EACCES: permission denied, open '/x/y'`.
 */

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
  ENODATA: 'no such attribute',
  ENOTSUP: 'not supported by the file system',
  E2BIG: 'too large',
};

/** A Node system-call error: an errno code such as `EACCES`. */
export type ErrnoError = NodeJS.ErrnoException & { code: string; dest?: string };

/** True when `err` is an error of a failed system call (it has an errno code). */
export function isErrnoError(err: unknown): err is ErrnoError {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}

/** The cause of errno `code` in words, with the code: `permission denied (EACCES)`. */
export function errnoCause(code: string): string {
  return `${CAUSES[code] ?? 'system error'} (${code})`;
}

/**
 * The cause of any error in words: `permission denied (EACCES)` for a failed system
 * call (whose path the caller names itself), else the error's message.
 */
export function errorCause(err: unknown): string {
  if (isErrnoError(err)) return errnoCause(err.code);
  return err instanceof Error ? err.message : String(err);
}

/**
 * `cannot SYSCALL PATH[ -> DEST]: CAUSE (CODE)` for a failed system call; without the
 * path when `withPath` is false (a warning that names the path itself). An errno error
 * of no system call keeps Node's message.
 */
export function describeErrno(err: ErrnoError, withPath = true): string {
  // Not a system call (a socket reset...): Node's own message says more.
  if (!err.syscall) return err.message;
  const path = err.path === undefined || !withPath ? undefined : String(err.path);
  // The other end of a link or rename is told even where the path is not.
  const dest = err.dest === undefined ? '' : ` -> ${String(err.dest)}`;
  const where =
    path === undefined ? `cannot ${err.syscall}${dest}` : `cannot ${err.syscall} ${path}${dest}`;
  return `${where}: ${errnoCause(err.code)}`;
}
