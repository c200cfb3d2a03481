/**
 * Translates Node file-system errors into CairnErrors for the local backend, so that
 * nothing above it inspects errno codes. Messages name the key, the path and the cause.
 */
import { BackendError, type CairnError, NotFoundError } from '../core/errors.js';

/** Errno codes worth retrying: the condition is transient (descriptor or lock pressure). */
const RETRYABLE = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EINTR', 'ETIMEDOUT']);

/** Readable explanations for the codes people actually run into. */
const EXPLAIN: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files in the system',
  EAGAIN: 'resource temporarily unavailable',
  EBUSY: 'resource busy',
  EIO: 'input/output error',
  ENOTDIR: 'a parent of the path is a file, not a directory',
  EISDIR: 'the path is a directory',
  ENOTEMPTY: 'the path is a non-empty directory',
};

/** The errno code of a Node error (`ENOENT`...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A CairnError for a failed file-system call: ENOENT becomes NotFoundError naming `key`
 * and `path`; anything else becomes a BackendError, retryable only for transient codes.
 * @param verb what was being done, e.g. `put` or `read`.
 */
export function fsError(err: unknown, verb: string, key: string, path: string): CairnError {
  const code = errnoCode(err);
  if (code === 'ENOENT') {
    return new NotFoundError(key, `not found: ${key} (${path})`, { cause: err });
  }
  const reason = code ? `${EXPLAIN[code] ?? 'file-system error'} (${code})` : String(err);
  return new BackendError(`${verb} ${key} failed at ${path}: ${reason}`, {
    retryable: code !== undefined && RETRYABLE.has(code),
    cause: err,
  });
}
