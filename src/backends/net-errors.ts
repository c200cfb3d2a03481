/** Network failures shared by the HTTP and S3 backends: which ones are worth retrying. */

/** Node and undici network error codes that mean "the connection broke or stalled". */
export const RETRYABLE_NET_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTCONN',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'HPE_INVALID_EOF_STATE',
  'UND_ERR_SOCKET',
]);

/** Messages of network failures that come without a code. */
export const RETRYABLE_NET_MESSAGES = /socket hang up|^aborted$|premature close|other side closed/i;
