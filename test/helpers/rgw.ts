/**
 * A real S3 server for tests: a throwaway single-node Ceph RGW on loopback, started by
 * scripts/rgw-up.sh and stopped by scripts/rgw-down.sh.
 *
 * `rgwServer()` returns the server described by the CAIRN_TEST_S3_* environment
 * variables when they are set (by rgw-global-setup.ts, or by hand for an RGW started
 * outside the tests), and otherwise starts one per process on first use. A server this
 * process started is stopped by `stopRgw()` (call it in afterAll) and, as a backstop,
 * on process exit and on SIGINT/SIGTERM. Missing Ceph packages are installed with
 * apt-get when running as root.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { S3Backend, type S3BackendOverrides } from '../../src/backends/s3.js';

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../../scripts/', import.meta.url));
const CEPH_PACKAGES = ['radosgw', 'ceph-mon', 'ceph-osd'];
const CEPH_BINARIES = ['radosgw', 'radosgw-admin', 'ceph-mon', 'ceph-osd', 'ceph', 'monmaptool'];

/** Environment variables that describe a running server to tests. */
export const RGW_ENV = {
  endpoint: 'CAIRN_TEST_S3_ENDPOINT',
  accessKey: 'CAIRN_TEST_S3_ACCESS_KEY',
  secretKey: 'CAIRN_TEST_S3_SECRET_KEY',
  region: 'CAIRN_TEST_S3_REGION',
  stateDir: 'CAIRN_TEST_RGW_STATE',
} as const;

/** A running S3 server and how to reach it. */
export interface RgwServer {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** The cluster's state directory (holds ceph.conf, for radosgw-admin); may be unknown. */
  stateDir?: string;
  /** Milliseconds the start took, when this process started it. */
  startMs?: number;
}

/** A bucket made for one test suite. */
export interface TestBucket {
  /** The bucket name. */
  bucket: string;
  /** `s3:http://127.0.0.1:PORT/BUCKET[/PREFIX]`. */
  url(prefix?: string): string;
  /** An S3Backend on the bucket with the server's credentials; close it when done. */
  open(prefix?: string, overrides?: S3BackendOverrides): S3Backend;
  /** Deletes every object and the bucket. */
  remove(): Promise<void>;
}

let own: { stateDir: string; server: Promise<RgwServer> } | undefined;

/** The server from CAIRN_TEST_S3_*, or one started (once per process) for this process. */
export function rgwServer(): Promise<RgwServer> {
  const endpoint = process.env[RGW_ENV.endpoint];
  if (endpoint) {
    const stateDir = process.env[RGW_ENV.stateDir];
    return Promise.resolve({
      endpoint,
      accessKey: process.env[RGW_ENV.accessKey] ?? '',
      secretKey: process.env[RGW_ENV.secretKey] ?? '',
      region: process.env[RGW_ENV.region] ?? 'us-east-1',
      ...(stateDir ? { stateDir } : {}),
    });
  }
  if (!own) {
    const stateDir = mkdtempSync(join(tmpdir(), 'cairn-rgw-'));
    installExitHandlers();
    own = { stateDir, server: startRgw(stateDir) };
  }
  return own.server;
}

/** Stops the server this process started, if any. Servers from the environment are left alone. */
export async function stopRgw(): Promise<void> {
  const current = own;
  own = undefined;
  if (!current) return;
  await current.server.catch(() => undefined);
  await run(join(SCRIPTS, 'rgw-down.sh'), [current.stateDir]);
}

/**
 * Starts a cluster in `stateDir` (installing Ceph first if needed and allowed); with
 * `storageClass`, its default placement also offers that storage class.
 */
export async function startRgw(
  stateDir: string,
  options: { storageClass?: string } = {},
): Promise<RgwServer> {
  await ensureCephInstalled();
  const started = performance.now();
  let stdout: string;
  try {
    ({ stdout } = await run(join(SCRIPTS, 'rgw-up.sh'), [stateDir], {
      timeout: 120_000,
      env: { ...process.env, RGW_STORAGE_CLASS: options.storageClass ?? '' },
    }));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/rgw-up.sh failed: ${e.stderr || e.message}`, { cause: err });
  }
  const env = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
  if (!env.S3_ENDPOINT) throw new Error(`scripts/rgw-up.sh printed no S3_ENDPOINT: ${stdout}`);
  return {
    endpoint: env.S3_ENDPOINT,
    accessKey: env.S3_ACCESS_KEY ?? '',
    secretKey: env.S3_SECRET_KEY ?? '',
    region: env.S3_REGION ?? 'us-east-1',
    stateDir,
    startMs: Math.round(performance.now() - started),
  };
}

/** Stops a cluster synchronously (for exit handlers). */
export function stopRgwSync(stateDir: string): void {
  spawnSync(join(SCRIPTS, 'rgw-down.sh'), [stateDir], { stdio: 'ignore', timeout: 30_000 });
}

/**
 * Installs the Ceph packages with apt-get when a binary is missing and we are root;
 * otherwise fails with the command to run. Returns the install time in ms (0 if none).
 */
export async function ensureCephInstalled(): Promise<number> {
  const missing = CEPH_BINARIES.filter(
    (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0,
  );
  if (missing.length === 0) return 0;
  const command = `apt-get -o DPkg::Lock::Timeout=300 update && apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends ${CEPH_PACKAGES.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `Ceph is not installed (missing ${missing.join(', ')}); run as root: ${command}`,
    );
  }
  const started = performance.now();
  await run('sh', ['-c', command], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Math.round(performance.now() - started);
  process.stderr.write(`[rgw] installed ${CEPH_PACKAGES.join(' ')} in ${ms} ms\n`);
  return ms;
}

/** Creates a bucket named after `label` (plus a random suffix) on `server`. */
export async function createTestBucket(server: RgwServer, label: string): Promise<TestBucket> {
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 30);
  const bucket = `cairn-${slug}-${Math.random().toString(36).slice(2, 10)}`.replace(/-+/g, '-');
  const url = (prefix?: string) =>
    `s3:${server.endpoint}/${bucket}${prefix ? `/${prefix.replace(/^\/+/, '')}` : ''}`;
  const open = (prefix?: string, overrides: S3BackendOverrides = {}) =>
    S3Backend.fromUrl(url(prefix), {
      credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
      region: server.region,
      ...overrides,
    });
  const admin = open();
  try {
    await admin.ensureBucket();
  } finally {
    await admin.close();
  }
  return {
    bucket,
    url,
    open,
    async remove() {
      const backend = open();
      try {
        const keys: string[] = [];
        for await (const info of backend.list('')) keys.push(info.key);
        await backend.deleteMany(keys);
      } finally {
        await backend.close();
      }
      // Deleting the bucket itself needs the admin tool (the backend never deletes buckets).
      if (server.stateDir) {
        await run('radosgw-admin', [
          '-c',
          join(server.stateDir, 'ceph.conf'),
          'bucket',
          'rm',
          `--bucket=${bucket}`,
          '--purge-objects',
        ]).catch(() => undefined);
      }
    },
  };
}

let handlersInstalled = false;

/** Stops our server however the process ends: normal exit, SIGINT, SIGTERM. */
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const stop = () => {
    if (own) stopRgwSync(own.stateDir);
    own = undefined;
  };
  process.on('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop();
      process.kill(process.pid, signal);
    });
  }
}

/** The environment `cliEnvironment` sets, and how to put it back. */
export interface CliEnvironment {
  /** Restores the variables and removes the cache folder. */
  restore(): Promise<void>;
}

/**
 * Points the in-process CLI at `server` for a whole test file: its credentials in the
 * standard AWS variables, and a cache folder of its own in CAIRN_CACHE_DIR (not a
 * tempDir(), which goes after each test while this one serves them all).
 */
export async function cliEnvironment(server: RgwServer): Promise<CliEnvironment> {
  const keys = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'CAIRN_CACHE_DIR'] as const;
  const saved = new Map(keys.map((k) => [k, process.env[k]]));
  const cacheDir = await mkdtemp(join(tmpdir(), 'cairn-cache-'));
  process.env.AWS_ACCESS_KEY_ID = server.accessKey;
  process.env.AWS_SECRET_ACCESS_KEY = server.secretKey;
  process.env.CAIRN_CACHE_DIR = cacheDir;
  return {
    async restore() {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}
