/**
 * A real nginx for tests: a static file server on a free loopback port, serving a given
 * directory with `autoindex off` (no listings, like a CDN), from Debian's packages.
 *
 * Each server gets its own prefix directory (config, pid, error and access logs, temp
 * paths) and runs in the foreground (`daemon off; master_process off`, one process) as
 * a child of the test process. `stop()` kills it; as a backstop every server still
 * running is killed on process exit and on SIGINT/SIGTERM. When nginx is missing and
 * we are root, `nginx-light` is installed with apt-get (Debian's policy-rc.d keeps the
 * package from starting a system-wide nginx on port 80 in containers).
 *
 * The access log has one line per request, `STATUS BYTES "REQUEST" "RANGE"`:
 * `$status $body_bytes_sent "$request" "$http_range"`; `accessLog()` parses it and
 * `bytesServed()` sums the body bytes, so tests can count what a client downloaded.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Debian package installed when nginx is missing (`nginx` where it does not exist). */
export const NGINX_PACKAGE = 'nginx-light';

/** Options for startNginx. */
export interface NginxOptions {
  /** The directory served at `/` (made absolute). */
  root: string;
  /** Directives added inside the `server { }` block, e.g. extra `location`s. */
  extraConfig?: string;
  /** Directives added inside the `http { }` block, before the server. */
  httpConfig?: string;
}

/** One parsed access-log line. */
export interface AccessLogEntry {
  status: number;
  /** `$body_bytes_sent`: body bytes written to the client (headers excluded). */
  bytes: number;
  method: string;
  /** The request target, e.g. `/repo/data/ab/abcd...`. */
  path: string;
  /** The Range request header, or undefined when there was none. */
  range: string | undefined;
}

/** A running nginx. */
export interface NginxServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  port: number;
  /** The served directory. */
  root: string;
  /** nginx's own directory (nginx.conf, logs, temp paths). */
  prefix: string;
  /** Milliseconds from spawning nginx to its port accepting connections. */
  startMs: number;
  /** Stops nginx (SIGTERM, then SIGKILL) and removes its prefix directory. Idempotent. */
  stop(): Promise<void>;
  /** The raw access-log lines so far. */
  logLines(): Promise<string[]>;
  /** The access log, parsed. */
  accessLog(): Promise<AccessLogEntry[]>;
  /** Sum of body bytes sent for requests whose path starts with `pathPrefix` (all by default). */
  bytesServed(pathPrefix?: string): Promise<number>;
  /**
   * Resolves once the access log has at least `count` lines. nginx logs a request after
   * sending its last byte, so a client can finish just before the line is written.
   */
  waitForLogLines(count: number, timeoutMs?: number): Promise<string[]>;
}

/** Servers started by this process and not stopped yet (with their prefix), for the exit backstop. */
const running = new Map<ChildProcess, string>();
let handlersInstalled = false;
let installed: Promise<number> | undefined;

/**
 * Installs `nginx-light` with apt-get when `nginx` is missing and we are root (running
 * `apt-get update` and trying again if the first install fails on a stale package
 * list); otherwise fails with the command to run. Returns the install time in ms, 0 if
 * nginx was already there. Runs once per process.
 */
export function ensureNginxInstalled(): Promise<number> {
  installed ??= install();
  return installed;
}

async function install(): Promise<number> {
  if (nginxBinary() !== undefined) return 0;
  const command = `apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends ${NGINX_PACKAGE}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`nginx is not installed; run as root: apt-get update && ${command}`);
  }
  const started = performance.now();
  const options = {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  };
  // nginx-light is gone after Debian 12: fall back to the plain package.
  const fallback = `${command} || apt-get install -y --no-install-recommends nginx`;
  try {
    await run('sh', ['-c', command], options);
  } catch {
    await run('sh', ['-c', `apt-get update && (${fallback})`], options);
  }
  if (nginxBinary() === undefined) throw new Error(`${command} did not install an nginx binary`);
  const ms = Math.round(performance.now() - started);
  process.stderr.write(`[nginx] installed ${NGINX_PACKAGE} in ${ms} ms\n`);
  return ms;
}

/** The nginx executable, or undefined when it is not installed. */
function nginxBinary(): string | undefined {
  for (const candidate of [
    '/usr/sbin/nginx',
    '/usr/local/sbin/nginx',
    '/usr/local/nginx/sbin/nginx',
  ]) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || undefined : undefined;
}

/** `nginx -V` configure arguments, to set only the temp paths of modules that exist. */
let configureArgs: string | undefined;
function nginxConfigureArgs(binary: string): string {
  configureArgs ??= spawnSync(binary, ['-V'], { encoding: 'utf8' }).stderr ?? '';
  return configureArgs;
}

/** A port that was free a moment ago (nginx binds it next; startNginx retries on a clash). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function config(prefix: string, port: number, options: NginxOptions, binary: string): string {
  const args = nginxConfigureArgs(binary);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .filter((kind) => kind === 'client_body' || args.includes(`--http-${kind}-temp-path`))
    .map((kind) => `  ${kind}_temp_path ${join(prefix, 'tmp', kind)};`)
    .join('\n');
  return `# Generated by test/helpers/nginx.ts
daemon off;
master_process off;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 1024; }
http {
  types { text/html html htm; application/json json; text/plain txt; }
  default_type application/octet-stream;
  log_format cairn '$status $body_bytes_sent "$request" "$http_range"';
  access_log ${join(prefix, 'access.log')} cairn;
${temp}
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65s;
  keepalive_requests 10000;
  server_tokens off;
  autoindex off;
${options.httpConfig ?? ''}
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
    root ${resolvePath(options.root)};
${options.extraConfig ?? ''}
  }
}
`;
}

/** Resolves when `port` accepts a connection; rejects if `child` exits first or on timeout. */
async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('nginx exited');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`nginx did not accept connections on port ${port} within ${timeoutMs} ms`);
}

/** Parses one access-log line written with the `cairn` log format. */
export function parseAccessLogLine(line: string): AccessLogEntry {
  const match = /^(\d{3}) (\d+) "(\S+) (\S+)[^"]*" "([^"]*)"$/.exec(line);
  if (!match) throw new Error(`unexpected nginx access-log line: ${line}`);
  const [, status, bytes, method, path, range] = match;
  return {
    status: Number(status),
    bytes: Number(bytes),
    method: method!,
    path: path!,
    range: range === '-' || range === '' ? undefined : range,
  };
}

/**
 * Starts nginx serving `options.root` on a free loopback port, installing it first if
 * needed and allowed. The server runs until `stop()` (or the end of the process).
 */
export async function startNginx(options: NginxOptions): Promise<NginxServer> {
  await ensureNginxInstalled();
  const binary = nginxBinary();
  if (binary === undefined) throw new Error('nginx is not installed');
  installExitHandlers();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, options);
    } catch (err) {
      // Most likely the free port was taken between picking and binding it: pick again.
      lastError = err;
    }
  }
  throw lastError;
}

async function startOnce(binary: string, options: NginxOptions): Promise<NginxServer> {
  const prefix = mkdtempSync(join(tmpdir(), 'cairn-nginx-'));
  mkdirSync(join(prefix, 'tmp'));
  const port = await freePort();
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, config(prefix, port, options, binary));
  const accessLogPath = join(prefix, 'access.log');
  writeFileSync(accessLogPath, '');

  const started = performance.now();
  // -e: error log from the very start, before nginx.conf is read (else /var/log/nginx).
  const child = spawn(binary, ['-p', prefix, '-c', confPath, '-e', join(prefix, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.set(child, prefix);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));
  child.once('error', () => undefined);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(prefix, { recursive: true, force: true });
  };

  try {
    await waitForPort(port, child, 10_000);
  } catch (err) {
    await stop();
    const log = await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '');
    throw new Error(`nginx failed to start: ${(stderr || log).trim() || String(err)}`, {
      cause: err,
    });
  }
  const startMs = Math.round(performance.now() - started);

  const logLines = async (): Promise<string[]> => {
    const text = await readFile(accessLogPath, 'utf8');
    return text.split('\n').filter((line) => line !== '');
  };
  const accessLog = async () => (await logLines()).map(parseAccessLogLine);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    root: resolvePath(options.root),
    prefix,
    startMs,
    stop,
    logLines,
    accessLog,
    async bytesServed(pathPrefix = '/') {
      let total = 0;
      for (const entry of await accessLog()) {
        if (entry.path.startsWith(pathPrefix)) total += entry.bytes;
      }
      return total;
    },
    async waitForLogLines(count, timeoutMs = 2_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const lines = await logLines();
        if (lines.length >= count || performance.now() > deadline) return lines;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
  };
}

/** Kills every server still running however the process ends. */
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const killAll = () => {
    for (const [child, prefix] of running) {
      child.kill('SIGKILL');
      rmSync(prefix, { recursive: true, force: true });
    }
    running.clear();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}
