/**
 * The read-only HTTP backend: a repository published on any static web server or CDN
 * (`--repo https://HOST/PATH`), with no cairn server and no directory listings.
 *
 * Objects are fetched by URL (`ROOT/config`, `ROOT/data/xx/<id>`...): `get` is a GET,
 * ranged with `Range: bytes=a-b`, `stat` a HEAD. Writes are refused and `list` is
 * impossible (servers give no listings), as `capabilities` says.
 *
 * Why it is built this way:
 * - `node:http`/`node:https` with keep-alive agents (see http-request.ts) rather than
 *   `fetch`: connect and idle timeouts, and cancellation at any point;
 * - `Accept-Encoding: identity`: the bytes are hashed, so they must arrive untouched;
 * - a download whose connection breaks mid-body is resumed with a Range request from
 *   the bytes received (a few times) instead of starting over, and the total length is
 *   checked against Content-Length / Content-Range;
 * - answers that are not the object are refused: an HTML page (a login or error page
 *   served with 200), a compressed body, a Content-Range for other bytes;
 * - errors are classified (http-errors.ts) so that the RetryBackend wrapper retries
 *   exactly the transient ones; this class does not retry whole calls itself.
 */
import http from 'node:http';
import https from 'node:https';
import { sleep, throwIfAborted } from '../core/abort.js';
import { BackendError, type CairnError, UsageError } from '../core/errors.js';
import type {
  Backend,
  BackendCapabilities,
  CallOptions,
  GetOptions,
  ObjectInfo,
  PutOptions,
} from './backend.js';
import { type HttpCallContext, statusError, translateHttpError } from './http-errors.js';
import { type HttpResponse, type HttpTransport, sendRequest } from './http-request.js';
import { objectUrl, parseHttpUrl, printable } from './http-url.js';
import { checkKey, checkPrefix } from './keys.js';
import { checkRangeOptions } from './range.js';

/** Settings a URL cannot express; every field is optional. */
export interface HttpBackendOptions {
  /** Connections kept per host. Default 16. */
  maxSockets?: number;
  /** Time allowed to open a connection (TCP and TLS). Default 10 s. */
  connectTimeoutMs?: number;
  /** Time a request may go without receiving a byte (answer or body). Default 30 s. */
  idleTimeoutMs?: number;
  /** Redirects followed per request. Default 5. */
  maxRedirects?: number;
  /** Times one `get` resumes a broken download from where it stopped. Default 5. */
  maxResumes?: number;
  /** Extra request headers (e.g. a CDN token header). */
  headers?: Record<string, string>;
}

/** Everything the constructor needs: a parsed location plus options. */
export interface HttpBackendConfig extends HttpBackendOptions {
  /** The repository root URL, without credentials; its path ends with '/'. */
  root: URL;
  /** Printable location (credentials masked). */
  location: string;
  /** Value of the Authorization header, if any. */
  authorization?: string | undefined;
}

/** A `bytes a-b/size` Content-Range (size undefined when the server sent `*`). */
interface ContentRange {
  start: number;
  end: number;
  size: number | undefined;
}

/** A Backend reading a repository over plain HTTP(S). Read-only and not listable. */
export class HttpBackend implements Backend {
  readonly location: string;
  readonly capabilities: BackendCapabilities = {
    writable: false,
    listable: false,
    atomicCreate: false,
  };
  /** The repository root URL (without credentials), path ending in '/'. */
  readonly root: URL;
  private readonly transport: HttpTransport;
  private readonly maxResumes: number;
  private readonly baseHeaders: Record<string, string>;

  /**
   * Opens `http(s)://[USER:PASSWORD@]HOST[:PORT]/PATH[?QUERY]`: PATH is the repository
   * root (trailing slash optional), QUERY is sent with every request, credentials are
   * sent as Basic auth and masked in `location`. Throws UsageError for a malformed URL.
   * Does not contact the server.
   */
  static fromUrl(location: string, options: HttpBackendOptions = {}): HttpBackend {
    const parsed = parseHttpUrl(location);
    return new HttpBackend({ ...options, ...parsed });
  }

  constructor(config: HttpBackendConfig) {
    this.root = config.root;
    this.location = config.location;
    this.maxResumes = nonNegative('maxResumes', config.maxResumes ?? 5);
    const agentOptions = {
      keepAlive: true,
      maxSockets: positive('maxSockets', config.maxSockets ?? 16),
      // Reuse the most recently used socket first, so idle ones expire on the server
      // side instead of all being kept barely alive.
      scheduling: 'lifo' as const,
    };
    this.transport = {
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
      connectTimeoutMs: positive('connectTimeoutMs', config.connectTimeoutMs ?? 10_000),
      idleTimeoutMs: positive('idleTimeoutMs', config.idleTimeoutMs ?? 30_000),
      maxRedirects: nonNegative('maxRedirects', config.maxRedirects ?? 5),
    };
    this.baseHeaders = {
      'user-agent': 'cairn',
      accept: '*/*',
      ...lowerCaseKeys(config.headers ?? {}),
      // Cairn hashes exact bytes: never let a server or proxy compress them.
      'accept-encoding': 'identity',
    };
    if (config.authorization !== undefined) this.baseHeaders.authorization = config.authorization;
  }

  /**
   * Reads an object or a byte range of it. A body cut short is resumed from the bytes
   * received (up to `maxResumes` times); the length is checked against the server's
   * Content-Length or Content-Range.
   */
  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    checkKey(key);
    checkRangeOptions(key, options);
    const { signal } = options;
    const offset = options.offset ?? 0;
    const ctx = this.ctx('GET', key, signal);
    throwIfAborted(signal);
    if (options.length === 0) {
      // HTTP ranges cannot be empty: check the offset against the size instead.
      const { size } = await this.stat(key, { signal });
      if (offset > size) throw pastEnd(ctx, offset, size);
      return new Uint8Array(0);
    }
    const end = options.length === undefined ? undefined : offset + options.length;
    return this.download(key, offset, end, ctx);
  }

  /** Refused: HTTP repositories are read-only. */
  async put(key: string, _data: Uint8Array, _options?: PutOptions): Promise<boolean> {
    throw new UsageError(`cannot put ${key}: ${this.location} is a read-only HTTP repository`);
  }

  /**
   * Size of an object, from a HEAD request's Content-Length (or, when the server
   * refuses HEAD or omits the length, from a one-byte ranged GET).
   */
  async stat(key: string, options: CallOptions = {}): Promise<ObjectInfo> {
    checkKey(key);
    const ctx = this.ctx('HEAD', key, options.signal);
    throwIfAborted(options.signal);
    const res = await this.send('HEAD', key, {}, ctx);
    await res.discard();
    if (res.status === 405 || res.status === 501) return this.statByGet(key, options.signal);
    if (res.status !== 200) throw statusError(res.status, ctx);
    await this.checkRepresentation(res, ctx);
    const size = contentLength(res);
    // No Content-Length (a dynamic server answering HEAD): ask for one byte instead.
    if (size === undefined) return this.statByGet(key, options.signal);
    return { key, size };
  }

  /** Always fails: plain HTTP servers have no listings. */
  // biome-ignore lint/correctness/useYield: it only throws, by design.
  async *list(prefix: string, _options?: CallOptions): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    throw new UsageError(
      `cannot list ${prefix || 'the repository'} in ${this.location}: plain HTTP servers have no listings`,
    );
  }

  /** Refused: HTTP repositories are read-only. */
  async delete(key: string, _options?: CallOptions): Promise<void> {
    throw new UsageError(`cannot delete ${key}: ${this.location} is a read-only HTTP repository`);
  }

  /** Closes the kept-alive connections. */
  async close(): Promise<void> {
    this.transport.httpAgent.destroy();
    this.transport.httpsAgent.destroy();
  }

  /**
   * Downloads bytes [start, end) of `key` (to the end of the object when `end` is
   * undefined, cut short at the end of the object), resuming after breaks.
   */
  private async download(
    key: string,
    start: number,
    end: number | undefined,
    ctx: HttpCallContext,
  ): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    let received = 0;
    /** How many bytes this get returns, once an answer told the object's size. */
    let expected: number | undefined;
    /** A strong ETag or Last-Modified, so a resume never mixes two versions. */
    let validator: string | undefined;
    let resumes = 0;
    for (;;) {
      const from = start + received;
      const headers: Record<string, string> = {};
      if (from > 0 || end !== undefined) {
        headers.range = `bytes=${from}-${end === undefined ? '' : end - 1}`;
        if (received > 0 && validator !== undefined) headers['if-range'] = validator;
      }
      const before = received;
      try {
        const res = await this.send('GET', key, headers, ctx);
        if (res.status === 416) {
          await res.discard();
          if (received > 0) {
            throw new BackendError(`http GET ${ctx.url}: the object shrank during the download`, {
              retryable: true,
              status: 416,
            });
          }
          const size = contentRange(res.headers['content-range'])?.size;
          const known = size ?? (await this.stat(key, { signal: ctx.signal })).size;
          if (from > known) throw pastEnd(ctx, from, known);
          return new Uint8Array(0);
        }
        if (res.status !== 200 && res.status !== 206) {
          await res.discard();
          throw statusError(res.status, ctx);
        }
        await this.checkRepresentation(res, ctx);
        let skip = 0;
        if (res.status === 206) {
          const range = contentRange(res.headers['content-range']);
          if (range === undefined || range.start !== from) {
            await res.discard();
            throw new BackendError(
              `http GET ${ctx.url}: asked for bytes from ${from}, got Content-Range ` +
                `"${res.headers['content-range'] ?? ''}"`,
              { retryable: true, status: 206 },
            );
          }
          if (range.size !== undefined) expected = Math.min(end ?? range.size, range.size) - start;
        } else {
          // 200: the whole object from byte 0, because the server ignores ranges or the
          // object changed since the first part (If-Range): start again from this body.
          chunks.length = 0;
          received = 0;
          skip = start;
          const size = contentLength(res);
          if (size !== undefined) {
            if (start > size) {
              await res.discard();
              throw pastEnd(ctx, start, size);
            }
            expected = Math.min(end ?? size, size) - start;
          }
        }
        validator ??= strongValidator(res.headers);
        const limit = expected ?? (end === undefined ? Number.POSITIVE_INFINITY : end - start);
        const complete = await readInto(res, skip, limit - received, (chunk) => {
          chunks.push(chunk);
          received += chunk.length;
        });
        if (!complete) {
          throw new BackendError(
            `http GET ${ctx.url}: body ended early after ${received} of ${expected ?? '?'} bytes`,
            { retryable: true },
          );
        }
        if (expected !== undefined && received < expected && res.status === 206) {
          // A server may send less of a range than asked (RFC 9110 allows it): ask for
          // the rest, as long as each answer brings bytes.
          if (received > before) continue;
          throw new BackendError(`http GET ${ctx.url}: an empty 206 answer`, {
            retryable: true,
          });
        }
        if (expected !== undefined && received !== expected) {
          throw new BackendError(
            `http GET ${ctx.url}: got ${received} bytes, expected ${expected}`,
            { retryable: true },
          );
        }
        return joinChunks(chunks, received);
      } catch (err) {
        const translated = translateHttpError(err, ctx);
        if (!this.mayResume(translated, received, resumes)) throw translated;
        // Resume at once after progress; back off a little when the last try got nothing.
        if (received === before) await sleep(Math.min(50 * 2 ** resumes, 1_000), ctx.signal);
        resumes++;
      }
    }
  }

  /** True when a failed download that has `received` bytes should continue with a Range. */
  private mayResume(err: CairnError, received: number, resumes: number): boolean {
    return (
      received > 0 && resumes < this.maxResumes && err instanceof BackendError && err.retryable
    );
  }

  /** `stat` for servers that refuse HEAD: a one-byte ranged GET. */
  private async statByGet(key: string, signal: AbortSignal | undefined): Promise<ObjectInfo> {
    const ctx = this.ctx('GET', key, signal);
    const res = await this.send('GET', key, { range: 'bytes=0-0' }, ctx);
    await res.discard();
    if (res.status !== 200 && res.status !== 206 && res.status !== 416) {
      throw statusError(res.status, ctx);
    }
    await this.checkRepresentation(res, ctx);
    const size =
      res.status === 200 ? contentLength(res) : contentRange(res.headers['content-range'])?.size;
    if (size === undefined) {
      throw new BackendError(`http GET ${ctx.url}: the answer does not tell the object's size`, {
        retryable: false,
      });
    }
    return { key, size };
  }

  /** Sends one request for `key`, translating failures before any answer. */
  private async send(
    method: 'GET' | 'HEAD',
    key: string,
    headers: Record<string, string>,
    ctx: HttpCallContext,
  ): Promise<HttpResponse> {
    try {
      return await sendRequest(
        this.transport,
        method,
        objectUrl(this.root, key),
        { ...this.baseHeaders, ...headers },
        ctx.signal,
      );
    } catch (err) {
      throw translateHttpError(err, ctx);
    }
  }

  /** Refuses answers that cannot be the object: HTML pages, compressed bodies. */
  private async checkRepresentation(res: HttpResponse, ctx: HttpCallContext): Promise<void> {
    const type = String(res.headers['content-type'] ?? '').toLowerCase();
    if (type.startsWith('text/html') && !/\.html?$/.test(ctx.key)) {
      await res.discard();
      throw new BackendError(
        `the server returned an HTML page instead of ${ctx.key} (a login page or an error page?): ` +
          `${ctx.method} ${printable(res.url)} answered HTTP ${res.status} with Content-Type ${type}`,
        { retryable: false, status: res.status },
      );
    }
    const encoding = String(res.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity' && encoding !== '') {
      await res.discard();
      throw new BackendError(
        `http ${ctx.method} ${ctx.url}: the server sent ${ctx.key} with Content-Encoding ` +
          `${encoding} although cairn asked for none; turn compression off for this path`,
        { retryable: false, status: res.status },
      );
    }
  }

  private ctx(method: string, key: string, signal: AbortSignal | undefined): HttpCallContext {
    return { method, key, url: printable(objectUrl(this.root, key)), signal };
  }
}

/**
 * Reads `res`'s body, dropping its first `skip` bytes and keeping at most `limit`
 * after them (then closing the connection early). Resolves true when the body was
 * complete (or `limit` was reached), false when it ended short of its Content-Length.
 */
async function readInto(
  res: HttpResponse,
  skip: number,
  limit: number,
  sink: (chunk: Buffer) => void,
): Promise<boolean> {
  let toSkip = skip;
  let left = limit;
  let bodyBytes = 0;
  const length = contentLength(res);
  if (left <= 0) {
    await res.discard();
    return true;
  }
  for await (const raw of res.body) {
    bodyBytes += raw.length;
    let chunk = raw;
    if (toSkip > 0) {
      const dropped = Math.min(toSkip, chunk.length);
      toSkip -= dropped;
      chunk = chunk.subarray(dropped);
    }
    if (chunk.length > left) chunk = chunk.subarray(0, left);
    if (chunk.length > 0) {
      sink(chunk);
      left -= chunk.length;
    }
    // Enough bytes: stop early (closing the connection) only if the body goes on, so
    // that a complete response leaves its connection to the next request.
    if (left <= 0 && !(length !== undefined && bodyBytes >= length)) return true;
  }
  return left <= 0 || length === undefined || bodyBytes >= length;
}

/**
 * The chunks as one fresh Uint8Array of its own (never a slice of Node's shared
 * buffer pool, so callers may use `.buffer` and keep the result as long as they like).
 */
function joinChunks(chunks: Buffer[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** The Content-Length of an identity-encoded response, if it sent a valid one. */
function contentLength(res: HttpResponse): number | undefined {
  const raw = res.headers['content-length'];
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw);
}

/** Parses `bytes a-b/size`, or the `bytes *\/size` of a 416 answer. */
function contentRange(header: string | undefined): ContentRange | undefined {
  if (header === undefined) return undefined;
  const full = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(header.trim());
  if (full) {
    return {
      start: Number(full[1]),
      end: Number(full[2]),
      size: full[3] === '*' ? undefined : Number(full[3]),
    };
  }
  const unsatisfied = /^bytes \*\/(\d+)$/i.exec(header.trim());
  if (unsatisfied) return { start: 0, end: -1, size: Number(unsatisfied[1]) };
  return undefined;
}

/** A validator usable in If-Range: a strong ETag, else Last-Modified. */
function strongValidator(headers: http.IncomingHttpHeaders): string | undefined {
  const etag = headers.etag;
  if (etag !== undefined && !etag.startsWith('W/')) return etag;
  return headers['last-modified'];
}

/** The non-retryable error for a range starting past the end of the object. */
function pastEnd(ctx: HttpCallContext, offset: number, size: number): BackendError {
  return new BackendError(
    `get ${ctx.key} at ${ctx.url}: offset ${offset} is past the end of the ${size}-byte object`,
    { retryable: false, status: 416 },
  );
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new UsageError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 0)) {
    throw new UsageError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}
