/**
 * A loopback HTTP proxy that forwards to a real server (RGW) and injects faults into a
 * share of requests: error answers (500/503 with an S3 error body), connections reset
 * before the request is forwarded, and responses cut off mid-body. Also adds latency
 * and lets tests observe the requests. Host headers are passed through unchanged, so
 * SigV4 signatures made for the proxy's address stay valid.
 *
 * Faults are drawn from a seeded generator; with concurrent requests the order of
 * draws, and so which request gets which fault, still depends on timing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../../src/backends/prng.js';

/** How a reset fault breaks the exchange. */
export type ResetMode = 'before' | 'truncate' | 'mixed';

/** Options for startFaultProxy. */
export interface FaultProxyOptions {
  /** The server to forward to, e.g. `http://127.0.0.1:7480`. */
  target: string;
  /** Share of requests whose connection is reset (0..1, default 0). */
  resetRate?: number;
  /** Share of requests answered with an injected error status (0..1, default 0). */
  errorRate?: number;
  /**
   * 'before': reset after reading the request, without forwarding it;
   * 'truncate': forward, then reset after half of the response body (or before the
   * headers when there is no body); 'mixed' (default): either, at random.
   */
  resetMode?: ResetMode;
  /** Statuses for injected errors, picked at random (default [500, 503]). */
  errorStatuses?: number[];
  /** Delay before each request is handled, in ms (default 0). */
  latencyMs?: number;
  /**
   * Pause, in ms, after the response headers and first body chunk of each forwarded
   * response before sending the rest (default 0): a stalled download.
   */
  stallMs?: number;
  /** Seed of the fault generator (default 1). */
  seed?: number;
  /** Called with each incoming request before any fault is applied. */
  observe?: (req: http.IncomingMessage) => void;
}

/** What the proxy did so far. */
export interface FaultProxyStats {
  /** Requests received. */
  requests: number;
  /** Requests forwarded to the target (including those later truncated). */
  forwarded: number;
  /** Injected error answers. */
  errors: number;
  /** Connections reset before forwarding. */
  resets: number;
  /** Responses cut off after forwarding. */
  truncated: number;
}

/** A running proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: use it as the S3 endpoint. */
  url: string;
  /** Live counters. */
  stats: FaultProxyStats;
  /** Changes the fault rates from now on (e.g. 0 to let a test finish cleanly). */
  setRates(rates: { resetRate?: number; errorRate?: number }): void;
  /** Stops listening and drops all connections. */
  close(): Promise<void>;
}

const ERROR_CODES: Record<number, string> = {
  500: 'InternalError',
  502: 'BadGateway',
  503: 'SlowDown',
  504: 'GatewayTimeout',
};

/** Starts a fault-injecting proxy in front of `options.target` on a free loopback port. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const random = seededRandom(options.seed ?? 1);
  let resetRate = options.resetRate ?? 0;
  let errorRate = options.errorRate ?? 0;
  const resetMode = options.resetMode ?? 'mixed';
  const errorStatuses = options.errorStatuses ?? [500, 503];
  const stats: FaultProxyStats = { requests: 0, forwarded: 0, errors: 0, resets: 0, truncated: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  const answerError = (req: http.IncomingMessage, res: http.ServerResponse) => {
    stats.errors++;
    const status = errorStatuses[Math.floor(random() * errorStatuses.length)] ?? 503;
    const code = ERROR_CODES[status] ?? 'InjectedError';
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by fault proxy</Message></Error>`;
    // Read the request body first so the client sees the answer, not a broken pipe.
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': body.length });
      res.end(body);
    });
  };

  const resetBefore = (req: http.IncomingMessage) => {
    stats.resets++;
    req.resume();
    req.on('end', () => req.socket.resetAndDestroy());
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, truncate: boolean) => {
    stats.forwarded++;
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (up) => {
        const length = Number(up.headers['content-length'] ?? 0);
        if (truncate) {
          stats.truncated++;
          if (!(length > 1) || req.method === 'HEAD') {
            up.resume();
            req.socket.resetAndDestroy();
            return;
          }
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!truncate && options.stallMs) {
          up.once('data', (chunk: Buffer) => {
            res.write(chunk);
            up.pause();
            setTimeout(() => up.pipe(res), options.stallMs);
          });
          return;
        }
        if (!truncate) {
          up.pipe(res);
          return;
        }
        // Send half the body, then break the connection.
        let budget = Math.floor(length / 2);
        up.on('data', (chunk: Buffer) => {
          if (budget <= 0) return;
          const part = chunk.subarray(0, budget);
          budget -= part.length;
          res.write(part);
          if (budget <= 0) {
            up.destroy();
            // Let the partial body reach the client before the reset.
            setTimeout(() => req.socket.resetAndDestroy(), 20);
          }
        });
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502);
        res.end();
      } else {
        req.socket.destroy();
      }
    });
    req.pipe(upstream);
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    stats.requests++;
    options.observe?.(req);
    const draw = random();
    if (draw < errorRate) {
      answerError(req, res);
    } else if (draw < errorRate + resetRate) {
      const truncate = resetMode === 'truncate' || (resetMode === 'mixed' && random() < 0.5);
      if (truncate) forward(req, res, true);
      else resetBefore(req);
    } else {
      forward(req, res, false);
    }
  };

  const server = http.createServer((req, res) => {
    req.socket.on('error', () => undefined);
    if (options.latencyMs) setTimeout(() => handle(req, res), options.latencyMs);
    else handle(req, res);
  });
  // Longer than any client keeps an idle connection, so the proxy never closes one
  // just as the client reuses it (which would look like an injected fault).
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    setRates(rates) {
      if (rates.resetRate !== undefined) resetRate = rates.resetRate;
      if (rates.errorRate !== undefined) errorRate = rates.errorRate;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}
