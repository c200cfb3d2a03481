import { describe, expect, it } from 'vitest';
import { errnoCode, fsError } from '../../src/backends/fs-errors.js';
import { BackendError, NotFoundError } from '../../src/core/errors.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

describe('fsError', () => {
  it('turns ENOENT into not-found naming key and path', () => {
    const err = fsError(errno('ENOENT'), 'get', 'a/b', '/r/a/b');
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('not found: a/b (/r/a/b)');
  });

  it.each([
    ['EACCES', false, 'permission denied'],
    ['EPERM', false, 'operation not permitted'],
    ['EROFS', false, 'read-only file system'],
    ['ENOSPC', false, 'no space left on device'],
    ['EIO', false, 'input/output error'],
    ['EMFILE', true, 'too many open files in this process'],
    ['EAGAIN', true, 'resource temporarily unavailable'],
    ['EBUSY', true, 'resource busy'],
    ['EWEIRD', false, 'file-system error'],
  ])('maps %s to a backend error, retryable=%s', (code, retryable, text) => {
    const cause = errno(code);
    const err = fsError(cause, 'put', 'k', '/r/k');
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ retryable, cause });
    expect(err.message).toBe(`put k failed at /r/k: ${text} (${code})`);
  });

  it('describes errors without an errno code', () => {
    const err = fsError(new Error('boom'), 'list', 'p/', '/r/p');
    expect(err).toMatchObject({ code: 'backend', retryable: false });
    expect(err.message).toBe('list p/ failed at /r/p: Error: boom');
    expect(errnoCode('not an error')).toBeUndefined();
  });
});
