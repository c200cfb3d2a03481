/**
 * Parsing of S3 locations.
 *
 * Two forms are accepted:
 * - `s3:BUCKET[/PREFIX]` (also `s3://BUCKET[/PREFIX]`): Amazon S3, region from the
 *   standard AWS chain;
 * - `s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]`: any S3-compatible service, path-style.
 *
 * Credentials never appear in a location: URLs with `user:password@` are rejected, so a
 * location can be printed in messages and logs.
 */
import { UsageError } from '../core/errors.js';

/** A parsed S3 location. */
export interface S3Location {
  /** The bucket name. */
  bucket: string;
  /** Key prefix inside the bucket: empty, or '/'-separated segments ending with '/'. */
  prefix: string;
  /** `http(s)://host[:port]` of an S3-compatible service; absent for Amazon S3. */
  endpoint?: string;
  /** `BUCKET` or `BUCKET/PREFIX` (no trailing slash), for messages. */
  path: string;
  /** The location in canonical form, safe to print. */
  location: string;
}

const FORMS = 's3:BUCKET/PREFIX or s3:http(s)://HOST:PORT/BUCKET/PREFIX';
// S3's bucket naming rules (3-63 chars, lowercase letters, digits, '.', '-'), plus '_',
// which older S3-compatible servers allow.
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
// Prefix segments may hold anything S3 keys allow except control characters and '\'.
const PREFIX_SEGMENT = /^[^\u0000-\u001f\u007f\\]+$/;

/**
 * Parses an `s3:` location. Throws UsageError naming the location (with any embedded
 * credentials masked) and the accepted forms when it is malformed.
 */
export function parseS3Url(url: string): S3Location {
  const shown = maskCredentials(url);
  const fail = (problem: string): never => {
    throw new UsageError(`invalid S3 location "${shown}": ${problem}; expected ${FORMS}`);
  };
  if (!url.startsWith('s3:')) fail('it does not start with "s3:"');
  let rest = url.slice(3);
  let endpoint: string | undefined;

  if (/^https?:\/\//i.test(rest)) {
    let parsed: URL;
    try {
      parsed = new URL(rest);
    } catch {
      return fail('the endpoint is not a valid URL');
    }
    if (parsed.username !== '' || parsed.password !== '') {
      fail('credentials do not belong in the location; use the AWS environment or profile');
    }
    if (parsed.search !== '' || parsed.hash !== '') fail('query strings are not supported');
    if (parsed.hostname === '') fail('the endpoint has no host');
    endpoint = `${parsed.protocol}//${parsed.host}`;
    try {
      rest = decodeURIComponent(parsed.pathname.replace(/^\/+/, ''));
    } catch {
      return fail('the path has a bad percent-escape');
    }
  } else if (rest.startsWith('//')) {
    rest = rest.slice(2);
  }

  const segments = rest.split('/');
  // Tolerate one trailing slash: `s3:bucket/` and `s3:bucket/prefix/`.
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  const bucket = segments.shift() ?? '';
  if (bucket === '') fail('the bucket name is missing');
  if (!BUCKET.test(bucket)) {
    fail(`"${bucket}" is not a valid bucket name (3-63 of a-z, 0-9, '.', '-', '_')`);
  }
  for (const segment of segments) {
    if (segment === '') fail('the prefix has an empty path segment');
    if (segment === '.' || segment === '..') fail(`the prefix may not contain "${segment}"`);
    if (!PREFIX_SEGMENT.test(segment)) fail(`bad character in prefix segment "${segment}"`);
  }
  const prefix = segments.length > 0 ? `${segments.join('/')}/` : '';
  const path = bucket + (prefix === '' ? '' : `/${prefix.slice(0, -1)}`);
  const location = endpoint === undefined ? `s3:${path}` : `s3:${endpoint}/${path}`;
  const parsed = { bucket, prefix, path, location };
  return endpoint === undefined ? parsed : { ...parsed, endpoint };
}

/**
 * Checks an endpoint given outside a location (an override, AWS_ENDPOINT_URL): an
 * http(s) URL with a host and nothing after it but an optional '/'. Returns
 * `scheme://host[:port]`; throws UsageError naming `source` otherwise.
 */
export function parseS3Endpoint(endpoint: string, source: string): string {
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.hostname === '' ||
    url.username !== '' ||
    url.password !== '' ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    throw new UsageError(
      `invalid S3 endpoint in ${source}: expected http(s)://HOST[:PORT], got "${maskCredentials(`s3:${endpoint}`).slice(3)}"`,
    );
  }
  return `${url.protocol}//${url.host}`;
}

/** Replaces `user:password@` in a URL-ish string so messages never echo secrets. */
function maskCredentials(url: string): string {
  return url.replace(/^(s3:[a-z]+:\/\/)[^/@]*@/i, '$1***@');
}
