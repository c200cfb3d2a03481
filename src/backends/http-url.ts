/**
 * Parsing of `http(s)://` repository locations for the read-only HTTP backend.
 *
 * The URL's path is the repository root (a trailing slash is optional); a query string
 * (a CDN token, say) is sent with every request. Credentials in the URL
 * (`https://user:pass@host/path`) become a Basic `Authorization` header, and neither
 * they nor the query appear in the printable location.
 */
import { UsageError } from '../core/errors.js';

/** A parsed HTTP repository location. */
export interface HttpLocation {
  /** The repository root without credentials, path ending in '/', with any query kept. */
  root: URL;
  /** The location for messages: credentials and query values masked, no trailing '/'. */
  location: string;
  /** `Basic ...` when the URL carried credentials. */
  authorization: string | undefined;
}

/** Parses `location`; throws UsageError for anything but an absolute http(s) URL. */
export function parseHttpUrl(location: string): HttpLocation {
  let url: URL;
  try {
    url = new URL(location);
  } catch (err) {
    throw new UsageError(`not a valid HTTP URL: ${maskCredentials(location)}`, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`not an http: or https: URL: ${maskCredentials(location)}`);
  }
  if (url.hostname === '') throw new UsageError(`no host in ${maskCredentials(location)}`);
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  }
  const root = new URL(url.href);
  root.username = '';
  root.password = '';
  root.hash = '';
  if (!root.pathname.endsWith('/')) root.pathname += '/';
  return { root, location: printable(url), authorization };
}

/** The URL of `key` below `root` (keys are `[a-z0-9._-/]`, so nothing needs escaping). */
export function objectUrl(root: URL, key: string): URL {
  const url = new URL(root.href);
  url.pathname = root.pathname + key;
  return url;
}

/** `url` for messages: password and query values replaced by `***`, no trailing '/'. */
export function printable(url: URL): string {
  const copy = new URL(url.href);
  copy.hash = '';
  if (copy.password !== '') copy.password = '***';
  const masked = [...copy.searchParams.keys()].map((name) => `${name}=***`);
  copy.search = '';
  let text = copy.href;
  if (text.endsWith('/')) text = text.slice(0, -1);
  return masked.length > 0 ? `${text}?${masked.join('&')}` : text;
}

/** Best-effort masking for strings that do not even parse as URLs. */
function maskCredentials(text: string): string {
  return text.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
}
