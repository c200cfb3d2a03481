/**
 * One HTTP exchange for the read-only HTTP backend, on `node:http`/`node:https` with
 * keep-alive agents, with the controls `fetch` does not give: a connect timeout, an
 * idle timeout (no byte for N ms while waiting for the answer or reading the body), an
 * AbortSignal that cancels at any point, and bounded redirect following.
 *
 * Failures come out as: `AbortedError` (the signal fired), a retryable `BackendError`
 * (a timeout), or the raw Node error (resets, DNS...), which http-errors.ts translates.
 */
import http from 'node:http';
import https from 'node:https';
import { AbortedError, BackendError } from '../core/errors.js';
import { isNetworkFailure } from './http-errors.js';
import { printable } from './http-url.js';

/** Connection settings shared by all requests of one backend. */
export interface HttpTransport {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
  /** Time allowed to open a connection (TCP and TLS). */
  connectTimeoutMs: number;
  /** Time a request may go without receiving a byte, before or during the body. */
  idleTimeoutMs: number;
  /** Redirects followed before giving up. */
  maxRedirects: number;
}

/** A response whose body has not been read yet. */
export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The URL that answered (after redirects). */
  url: URL;
  /** The body; iterating throws what broke it (timeout, abort, reset). */
  body: AsyncIterable<Buffer>;
  /**
   * Drops the body: drains a small one (keeping the connection for the next request),
   * else closes the connection. Resolves once the connection is settled.
   */
  discard(): Promise<void>;
}

/** Statuses that redirect a GET or HEAD to the `Location` header. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Bodies at most this long are drained rather than closing the connection. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * Sends `method` to `url`, following redirects (at most `transport.maxRedirects`; the
 * `Authorization` header is dropped when a redirect leaves the origin). Resolves with
 * the first non-redirect response.
 */
export async function sendRequest(
  transport: HttpTransport,
  method: 'GET' | 'HEAD',
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<HttpResponse> {
  let current = url;
  let sent = headers;
  for (let hops = 0; ; hops++) {
    const res = await exchange(transport, method, current, sent, signal, true);
    if (!REDIRECTS.has(res.status)) return res;
    res.discard();
    const where = `http ${method} ${printable(url)}`;
    const location = res.headers.location;
    if (location === undefined || location === '') {
      throw new BackendError(`${where}: HTTP ${res.status} redirect without a Location header`, {
        retryable: false,
        status: res.status,
      });
    }
    if (hops >= transport.maxRedirects) {
      throw new BackendError(`${where}: more than ${transport.maxRedirects} redirects`, {
        retryable: false,
        status: res.status,
      });
    }
    let next: URL;
    try {
      next = new URL(location, current);
    } catch (err) {
      throw new BackendError(`${where}: redirect to an invalid URL`, {
        retryable: false,
        cause: err,
      });
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new BackendError(`${where}: redirect to a non-HTTP URL (${next.protocol})`, {
        retryable: false,
      });
    }
    if (next.origin !== current.origin && 'authorization' in sent) {
      // Never send the repository's credentials to another host.
      const { authorization: _dropped, ...rest } = sent;
      sent = rest;
    }
    current = next;
  }
}

/**
 * One request and its response head. A request that failed before any answer on a
 * reused keep-alive connection is sent once more on a fresh one: the server may have
 * closed that idle connection just as we reused it, which says nothing about the server.
 */
function exchange(
  transport: HttpTransport,
  method: 'GET' | 'HEAD',
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
  mayResend: boolean,
): Promise<HttpResponse> {
  const where = `http ${method} ${printable(url)}`;
  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError(`${where}: aborted`, { cause: signal.reason }));
      return;
    }
    const tls = url.protocol === 'https:';
    const request = tls ? https.request : http.request;
    const req = request(url, {
      method,
      headers,
      agent: tls ? transport.httpsAgent : transport.httpAgent,
    });
    let res: http.IncomingMessage | undefined;
    let connectTimer: NodeJS.Timeout | undefined;

    const fail = (err: Error) => {
      if (res) res.destroy(err);
      req.destroy(res ? undefined : err);
    };
    const onAbort = () => fail(new AbortedError(`${where}: aborted`, { cause: signal?.reason }));
    const cleanup = () => {
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => {
        fail(
          new BackendError(
            `${where}: could not connect within ${transport.connectTimeoutMs} ms (connect timeout)`,
            { retryable: true },
          ),
        );
      }, transport.connectTimeoutMs);
      socket.once(tls ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    // Node arms this once connected and re-arms it on every byte received.
    req.setTimeout(transport.idleTimeoutMs, () => {
      const phase = res ? 'in the body' : 'waiting for the response';
      fail(
        new BackendError(
          `${where}: no data for ${transport.idleTimeoutMs} ms ${phase} (idle timeout)`,
          { retryable: true },
        ),
      );
    });
    req.on('error', (err) => {
      cleanup();
      if (res) return; // the body iterator reports it
      if (mayResend && req.reusedSocket && !signal?.aborted && isNetworkFailure(err)) {
        exchange(transport, method, url, headers, signal, false).then(resolve, reject);
        return;
      }
      reject(err);
    });
    req.on('response', (response) => {
      res = response;
      response.once('close', cleanup);
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        url,
        body: response,
        discard() {
          if (response.readableEnded || response.destroyed) return Promise.resolve();
          // A HEAD answer has no body whatever its Content-Length says; it still has to
          // be read to the end before the connection goes back to the pool.
          const length = Number(response.headers['content-length']);
          const small = Number.isFinite(length) && length <= DRAIN_LIMIT;
          if (!(method === 'HEAD' || response.complete || small)) {
            response.destroy();
            return Promise.resolve();
          }
          // Settled at 'close', which comes after the socket went back to the agent.
          const settled = new Promise<void>((resolve) => response.once('close', resolve));
          response.resume();
          return settled;
        },
      });
    });
    req.end();
  });
}
