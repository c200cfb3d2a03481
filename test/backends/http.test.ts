/**
 * HttpBackend against a real nginx on loopback (test/helpers/nginx.ts starts it), plus
 * the fault proxy for broken and stalled downloads and a silent server for timeouts.
 * Nothing about HTTP is mocked.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBackend, type HttpBackendOptions } from '../../src/backends/http.js';
import { LocalBackend } from '../../src/backends/local.js';
import { openBackend } from '../../src/backends/open.js';
import { AbortedError, BackendError, NotFoundError, UsageError } from '../../src/core/errors.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { initRepository, openRepository } from '../../src/repo/repository.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { describeTree, pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { type NginxServer, startNginx } from '../helpers/nginx.js';

const MiB = 1024 * 1024;

/** Served by nginx; removed in afterAll. */
const root = mkdtempSync(join(tmpdir(), 'cairn-http-root-'));
/** Outside the served root: the htpasswd file. */
const privateDir = mkdtempSync(join(tmpdir(), 'cairn-http-conf-'));
const HTML_PAGE = '<!doctype html><html><body>Please log in</body></html>\n';

let nginx: NginxServer;
const opened: HttpBackend[] = [];
const cleanups: Array<() => unknown> = [];

let ready: Promise<void> | undefined;
function prepare(): Promise<void> {
  ready ??= (async () => {
    writeFileSync(join(root, 'app.html'), HTML_PAGE);
    writeFileSync(join(privateDir, 'htpasswd'), 'reader:{PLAIN}s3cret\n');
    nginx = await startNginx({
      root,
      extraConfig: `
    location /denied/ { deny all; }
    location /private/ {
      auth_basic "cairn";
      auth_basic_user_file ${join(privateDir, 'htpasswd')};
    }
    location /spa/ { try_files $uri /app.html; }
    location /errpage/ { error_page 404 =200 /app.html; }
    location /broken/ { return 503; }
    location /moved/ { rewrite ^/moved/(.*)$ /repo/$1 redirect; }
    location /loop/ { rewrite ^/loop/(.*)$ /loop/$1 redirect; }
    location /norange/ { max_ranges 0; }
    location /gz/ { gzip on; gzip_types *; gzip_min_length 1; }
    location /fakegz/ { add_header Content-Encoding gzip; }
`,
    });
    process.stderr.write(`[nginx] ${nginx.url} started in ${nginx.startMs} ms\n`);
  })();
  return ready;
}

/** An HttpBackend on `url`, closed in afterAll. */
function open(url: string, options: HttpBackendOptions = {}): HttpBackend {
  const backend = HttpBackend.fromUrl(url, options);
  opened.push(backend);
  return backend;
}

/** Writes `data` as `key` of the repository folder `dir` (relative to the served root). */
async function seed(dir: string, key: string, data: Uint8Array): Promise<void> {
  await new LocalBackend(join(root, dir)).put(key, data);
}

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** A TCP server that accepts connections and never answers. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/repo/`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A listening socket whose accept queue is full, so that new connections hang in the
 * TCP handshake: Perl listens with a backlog of 1 and never accepts, and we connect
 * until a connection no longer completes (Linux then drops further SYNs).
 */
async function unconnectableServer(): Promise<{ url: string; close(): void }> {
  const perl: ChildProcess = spawn(
    'perl',
    [
      '-MIO::Socket::INET',
      '-e',
      '$|=1; my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die; print $s->sockport, "\\n"; sleep 60',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    perl.stdout?.once('data', (line: Buffer) => resolve(Number(String(line).trim())));
    perl.once('error', reject);
  });
  const fillers: Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      setTimeout(() => resolve(false), 300);
    });
    if (!connected) {
      socket.destroy();
      break;
    }
    fillers.push(socket);
  }
  return {
    url: `http://127.0.0.1:${port}/repo/`,
    close() {
      for (const socket of fillers) socket.destroy();
      perl.kill('SIGKILL');
    },
  };
}

beforeAll(prepare, 600_000);

afterAll(async () => {
  await Promise.all(opened.map((b) => b.close()));
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await nginx?.stop();
  rmSync(root, { recursive: true, force: true });
  rmSync(privateDir, { recursive: true, force: true });
});

describeBackendConformance(
  'http (nginx)',
  async () => {
    await prepare();
    mkdirSync(join(root, 'conformance'), { recursive: true });
    return {
      backend: HttpBackend.fromUrl(`${nginx.url}/conformance`),
      seed: (key, data) => seed('conformance', key, data),
    };
  },
  { readOnly: true, listable: false },
);

describe('HTTP locations', () => {
  it('takes the URL path as the root, with or without a trailing slash', () => {
    for (const url of ['http://h.example:8080/a/b', 'http://h.example:8080/a/b/']) {
      const backend = HttpBackend.fromUrl(url);
      expect(backend.root.href).toBe('http://h.example:8080/a/b/');
      expect(backend.location).toBe('http://h.example:8080/a/b');
    }
    expect(HttpBackend.fromUrl('https://cdn.example/').root.href).toBe('https://cdn.example/');
  });

  it('masks credentials and query values in the location', () => {
    const backend = HttpBackend.fromUrl('https://me:p%40ss@cdn.example/repo?token=abc');
    expect(backend.location).toBe('https://me:***@cdn.example/repo?token=***');
    expect(backend.location).not.toContain('abc');
    expect(backend.root.username).toBe('');
    expect(backend.root.search).toBe('?token=abc');
  });

  it('rejects malformed and non-HTTP URLs with usage', () => {
    for (const bad of ['http://', 'ftp://h/x', 'not a url']) {
      expect(() => HttpBackend.fromUrl(bad)).toThrow(UsageError);
    }
    expect(() => HttpBackend.fromUrl('http://u:secret@/x')).toThrow(UsageError);
    try {
      HttpBackend.fromUrl('ftp://u:secret@h/x');
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });

  it('is what openBackend returns for http: and https: locations', async () => {
    const backend = await openBackend('https://cdn.example/repo/');
    expect(backend).toBeInstanceOf(HttpBackend);
    expect(backend.capabilities).toEqual({ writable: false, listable: false, atomicCreate: false });
    await backend.close();
  });

  it('refuses writes and listings with clear usage errors', async () => {
    const backend = open(`${nginx.url}/repo/`);
    const put = await rejectionOf(backend.put('config', new Uint8Array(1)));
    expect(put).toBeInstanceOf(UsageError);
    expect((put as Error).message).toContain('read-only HTTP repository');
    expect((put as Error).message).toContain(nginx.url);
    expect(await rejectionOf(backend.delete('config'))).toBeInstanceOf(UsageError);
    const list = await rejectionOf(
      (async () => {
        for await (const _ of backend.list('snapshots/')) break;
      })(),
    );
    expect(list).toBeInstanceOf(UsageError);
    expect((list as Error).message).toContain('plain HTTP servers have no listings');
  });
});

describe('HTTP answers', () => {
  it('returns a buffer of its own, not a slice of a shared pool', async () => {
    const data = randomBytes(10);
    await seed('repo', 'data/aa/tiny', data);
    const got = await open(`${nginx.url}/repo/`).get('data/aa/tiny');
    expect(same(got, data)).toBe(true);
    expect(got.byteOffset).toBe(0);
    expect(got.buffer.byteLength).toBe(10);
  });

  it('reports 404 as not-found naming the key and the URL', async () => {
    const backend = open(`${nginx.url}/repo/`);
    for (const call of [() => backend.get('data/ab/missing'), () => backend.stat('data/ab/x')]) {
      const err = await rejectionOf(call());
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as Error).message).toMatch(/data\/ab\/(missing|x)/);
      expect((err as Error).message).toContain(`${nginx.url}/repo/data/ab/`);
      expect((err as Error).message).toContain('HTTP 404');
    }
  });

  it('reports 403 as a non-retryable access-denied error with the URL', async () => {
    await seed('denied', 'config', new Uint8Array([1]));
    const backend = open(`${nginx.url}/denied`);
    for (const call of [() => backend.get('config'), () => backend.stat('config')]) {
      const err = await rejectionOf(call());
      expect(err).toBeInstanceOf(BackendError);
      expect(err).toMatchObject({ retryable: false, status: 403 });
      expect((err as Error).message).toContain(
        `access denied (HTTP 403) for ${nginx.url}/denied/config`,
      );
    }
  });

  it('sends credentials from the URL as Basic auth and reports 401 clearly', async () => {
    const data = randomBytes(500);
    await seed('private', 'config', data);
    const good = open(`http://reader:s3cret@127.0.0.1:${nginx.port}/private/`);
    expect(good.location).not.toContain('s3cret');
    expect(same(await good.get('config'), data)).toBe(true);
    expect(await good.stat('config')).toEqual({ key: 'config', size: 500 });
    for (const url of [
      `${nginx.url}/private/`,
      `http://reader:wrong@127.0.0.1:${nginx.port}/private/`,
    ]) {
      const err = await rejectionOf(open(url).get('config'));
      expect(err).toMatchObject({ code: 'backend', retryable: false, status: 401 });
      expect((err as Error).message).toContain('access denied (HTTP 401)');
      expect((err as Error).message).not.toContain('wrong');
    }
  });

  it('refuses an HTML page served with 200 instead of the object', async () => {
    await seed('errpage', 'config', new Uint8Array([7]));
    for (const dir of ['spa', 'errpage']) {
      const backend = open(`${nginx.url}/${dir}/`);
      for (const call of [() => backend.get('data/ab/none'), () => backend.stat('snapshots/ab')]) {
        const err = await rejectionOf(call());
        expect(err).toMatchObject({ code: 'backend', retryable: false });
        expect((err as Error).message).toMatch(
          /the server returned an HTML page instead of (data\/ab\/none|snapshots\/ab) \(a login page or an error page\?\)/,
        );
      }
    }
    for (const key of ['config', 'data/ab/none']) {
      const err = await rejectionOf(open(`${nginx.url}/spa/`).get(key));
      expect((err as Error).message).toContain(`HTML page instead of ${key}`);
    }
    // The real object is still served where it exists.
    expect([...(await open(`${nginx.url}/errpage/`).get('config'))]).toEqual([7]);
  });

  it('reports 5xx as retryable', async () => {
    const err = await rejectionOf(open(`${nginx.url}/broken/`).get('config'));
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ retryable: true, status: 503 });
  });

  it('follows redirects, and gives up on a loop', async () => {
    const data = randomBytes(3000);
    await seed('repo', 'data/aa/moved', data);
    const moved = open(`${nginx.url}/moved/`);
    expect(same(await moved.get('data/aa/moved'), data)).toBe(true);
    expect(
      same(await moved.get('data/aa/moved', { offset: 10, length: 20 }), data.subarray(10, 30)),
    );
    expect((await moved.stat('data/aa/moved')).size).toBe(3000);
    const err = await rejectionOf(open(`${nginx.url}/loop/`, { maxRedirects: 3 }).get('config'));
    expect(err).toMatchObject({ code: 'backend', retryable: false, status: 302 });
    expect((err as Error).message).toContain('more than 3 redirects');
  });

  it('asks for identity encoding, and refuses a compressed body', async () => {
    const text = new TextEncoder().encode('{"compressible":"yes"}'.repeat(200));
    await seed('gz', 'config', text);
    expect(same(await open(`${nginx.url}/gz/`).get('config'), text)).toBe(true);
    await seed('fakegz', 'config', text);
    const err = await rejectionOf(open(`${nginx.url}/fakegz/`).get('config'));
    expect(err).toMatchObject({ code: 'backend', retryable: false });
    expect((err as Error).message).toContain('Content-Encoding gzip');
  });

  it('keeps connections alive across requests', async () => {
    const sockets = new Set<unknown>();
    const proxy = await startFaultProxy({
      target: nginx.url,
      observe: (req) => sockets.add(req.socket),
    });
    cleanups.push(() => proxy.close());
    await seed('repo', 'data/bb/small', randomBytes(100));
    const backend = open(`${proxy.url}/repo/`);
    for (let i = 0; i < 20; i++) {
      await backend.get('data/bb/small');
      await backend.stat('data/bb/small');
      await rejectionOf(backend.get('data/bb/missing'));
    }
    expect(proxy.stats.requests).toBe(60);
    expect(sockets.size).toBe(1);
  });
});

describe('HTTP ranged reads', () => {
  const data = randomBytes(100_000);
  beforeAll(async () => {
    await seed('repo', 'data/cc/ranged', data);
    await seed('norange', 'data/cc/ranged', data);
  });

  it('sends a Range header and gets 206 with exactly those bytes', async () => {
    const backend = open(`${nginx.url}/repo/`);
    const before = (await nginx.logLines()).length;
    const got = await backend.get('data/cc/ranged', { offset: 1000, length: 500 });
    expect(same(got, data.subarray(1000, 1500))).toBe(true);
    const log = (await nginx.waitForLogLines(before + 1)).slice(before);
    expect(log).toHaveLength(1);
    expect(log[0]).toBe('206 500 "GET /repo/data/cc/ranged HTTP/1.1" "bytes=1000-1499"');
  });

  it('slices the body when the server ignores Range (200)', async () => {
    const backend = open(`${nginx.url}/norange/`);
    expect(
      same(await backend.get('data/cc/ranged', { offset: 5, length: 7 }), data.subarray(5, 12)),
    );
    expect(same(await backend.get('data/cc/ranged', { offset: 99_990 }), data.subarray(99_990)));
    expect(await backend.get('data/cc/ranged', { offset: 100_000 })).toHaveLength(0);
    const err = await rejectionOf(backend.get('data/cc/ranged', { offset: 100_001 }));
    expect(err).toMatchObject({ code: 'backend', retryable: false, status: 416 });
    const log = await nginx.accessLog();
    expect(log.filter((e) => e.path.startsWith('/norange/')).map((e) => e.status)).toEqual([
      200, 200, 200, 200,
    ]);
  });

  it('answers an offset exactly at the end with no bytes, past it with an error', async () => {
    const backend = open(`${nginx.url}/repo/`);
    expect(await backend.get('data/cc/ranged', { offset: 100_000, length: 10 })).toHaveLength(0);
    expect(await backend.get('data/cc/ranged', { offset: 100_000, length: 0 })).toHaveLength(0);
    const err = await rejectionOf(backend.get('data/cc/ranged', { offset: 100_001, length: 0 }));
    expect(err).toMatchObject({ code: 'backend', retryable: false });
    expect((err as Error).message).toContain('past the end of the 100000-byte object');
  });
});

describe('HTTP resumed downloads', () => {
  const size = 4 * MiB + 123;
  const data = pseudoRandomBytes(size, 42);
  beforeAll(async () => {
    await seed('repo', 'data/dd/big', data);
    await seed('norange', 'data/dd/big', data);
  });

  /** A proxy that cuts the first `cuts` responses off after half their body. */
  async function cuttingProxy(cuts: number) {
    const ranges: Array<string | undefined> = [];
    const ifRanges: Array<string | undefined> = [];
    const proxy = await startFaultProxy({
      target: nginx.url,
      resetRate: 1,
      resetMode: 'truncate',
      observe: (req) => {
        ranges.push(req.headers.range);
        ifRanges.push(req.headers['if-range'] as string | undefined);
        if (ranges.length > cuts) proxy.setRates({ resetRate: 0 });
      },
    });
    cleanups.push(() => proxy.close());
    return { proxy, ranges, ifRanges };
  }

  it('continues a body cut off mid-way from the received offset', async () => {
    const { proxy, ranges, ifRanges } = await cuttingProxy(3);
    const backend = open(`${proxy.url}/repo/`);
    const got = await backend.get('data/dd/big');
    expect(same(got, data)).toBe(true);
    // Resumes are conditional on the object being the same (nginx's strong ETag).
    expect(ifRanges[0]).toBeUndefined();
    expect(ifRanges.slice(1).every((v) => v !== undefined && /^"[0-9a-f-]+"$/.test(v))).toBe(true);
    expect(proxy.stats.truncated).toBe(3);
    expect(ranges).toHaveLength(4);
    expect(ranges[0]).toBeUndefined();
    // Each resume starts where the bytes stopped (at least half of what was asked).
    const starts = ranges.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r ?? '')?.[1]));
    expect(starts.every((s, i) => s > (i === 0 ? 0 : starts[i - 1]!))).toBe(true);
    expect(starts[0]).toBeGreaterThanOrEqual(Math.floor(size / 2));
  });

  it('continues a ranged read inside its range', async () => {
    const { proxy, ranges } = await cuttingProxy(2);
    const got = await open(`${proxy.url}/repo/`).get('data/dd/big', {
      offset: 1000,
      length: 2 * MiB,
    });
    expect(same(got, data.subarray(1000, 1000 + 2 * MiB))).toBe(true);
    expect(ranges[0]).toBe(`bytes=1000-${1000 + 2 * MiB - 1}`);
    expect(ranges[1]).toMatch(new RegExp(`^bytes=\\d+-${1000 + 2 * MiB - 1}$`));
    expect(ranges).toHaveLength(3);
  });

  it('starts over from a 200 when the server ignores the resume Range', async () => {
    const { proxy, ranges } = await cuttingProxy(1);
    const got = await open(`${proxy.url}/norange/`).get('data/dd/big', { offset: 7 });
    expect(same(got, data.subarray(7))).toBe(true);
    expect(ranges).toHaveLength(2);
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
  });

  it('gives up with a retryable error after maxResumes', async () => {
    const { proxy, ranges } = await cuttingProxy(100);
    const err = await rejectionOf(open(`${proxy.url}/repo/`, { maxResumes: 2 }).get('data/dd/big'));
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ retryable: true });
    expect(ranges).toHaveLength(3);
  });
});

describe('HTTP timeouts and cancellation', () => {
  it('times out a server that accepts but never answers, retryably', async () => {
    const silent = await silentServer();
    cleanups.push(() => silent.close());
    const backend = open(silent.url, { idleTimeoutMs: 300 });
    for (const call of [() => backend.get('config'), () => backend.stat('config')]) {
      const started = performance.now();
      const err = await rejectionOf(call());
      const elapsed = performance.now() - started;
      expect(err).toBeInstanceOf(BackendError);
      expect(err).toMatchObject({ retryable: true });
      expect((err as Error).message).toContain('idle timeout');
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2_000);
    }
  });

  it('times out a connection that cannot be established, retryably', async () => {
    const server = await unconnectableServer();
    cleanups.push(() => server.close());
    const backend = open(server.url, { connectTimeoutMs: 300 });
    const started = performance.now();
    const err = await rejectionOf(backend.get('config'));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(err).toMatchObject({ code: 'backend', retryable: true });
    expect((err as Error).message).toContain('connect timeout');
  });

  it('times out a body that stalls, and resumes when it can', async () => {
    await seed('repo', 'data/ee/stall', pseudoRandomBytes(2 * MiB, 9));
    const proxy = await startFaultProxy({ target: nginx.url, stallMs: 1_500 });
    cleanups.push(() => proxy.close());
    const started = performance.now();
    const err = await rejectionOf(
      open(`${proxy.url}/repo/`, { idleTimeoutMs: 200, maxResumes: 0 }).get('data/ee/stall'),
    );
    expect(performance.now() - started).toBeLessThan(1_200);
    expect(err).toMatchObject({ code: 'backend', retryable: true });
    expect((err as Error).message).toContain('in the body (idle timeout)');
  });

  it('aborts while waiting for the answer and while reading the body', async () => {
    const silent = await silentServer();
    cleanups.push(() => silent.close());
    const waiting = new AbortController();
    setTimeout(() => waiting.abort(), 50);
    const started = performance.now();
    const err = await rejectionOf(open(silent.url).get('config', { signal: waiting.signal }));
    expect(err).toBeInstanceOf(AbortedError);
    expect(performance.now() - started).toBeLessThan(1_000);

    await seed('repo', 'data/ee/abort', pseudoRandomBytes(2 * MiB, 10));
    const proxy = await startFaultProxy({ target: nginx.url, stallMs: 5_000 });
    cleanups.push(() => proxy.close());
    const reading = new AbortController();
    const backend = open(`${proxy.url}/repo/`);
    const pending = rejectionOf(backend.get('data/ee/abort', { signal: reading.signal }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    reading.abort();
    const t0 = performance.now();
    expect(await pending).toBeInstanceOf(AbortedError);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('HTTP repository end to end', () => {
  it('restores a snapshot served by nginx byte for byte', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'big.bin'), pseudoRandomBytes(3 * MiB + 5, 1));
    await writeFile(join(src, 'empty'), '');
    await mkdir(join(src, 'sub', 'deeper'), { recursive: true });
    await writeFile(join(src, 'sub', 'small.txt'), 'hello over http\n');
    await writeFile(join(src, 'sub', 'deeper', 'mid.bin'), pseudoRandomBytes(200_000, 2));
    await symlink('sub/small.txt', join(src, 'link'));

    const dir = join(root, 'e2e');
    const local = await initRepository(new LocalBackend(dir));
    const { snapshotId } = await backup(local, { paths: [src], statCacheDir: false });
    expect(snapshotId).toBeDefined();
    // HTTP cannot list: resolve the id through the local repository.
    expect(await local.snapshots.ids()).toEqual([snapshotId]);
    await local.close();

    const repo = await openRepository(`${nginx.url}/e2e/`);
    try {
      expect(repo.backend).toBeInstanceOf(HttpBackend);
      const listing = (async () => {
        for await (const _ of repo.backend.list('snapshots/')) break;
      })();
      expect(await rejectionOf(listing)).toBeInstanceOf(UsageError);
      const snapshot = await repo.snapshots.load(snapshotId!);
      const target = await tempDir();
      const before = await nginx.bytesServed('/e2e/');
      const summary = await restore(repo, snapshotId!, snapshot, { target });
      expect(summary.errors).toBe(0);
      expect(await describeTree(target)).toEqual(await describeTree(src));
      const served = (await nginx.bytesServed('/e2e/')) - before;
      expect(served).toBeGreaterThanOrEqual(summary.bytesFetched);
    } finally {
      await repo.close();
    }
  });

  it('says clearly when there is no repository at the URL', async () => {
    const err = await rejectionOf(openRepository(`${nginx.url}/nothing-here/`));
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain(`no cairn repository at ${nginx.url}/nothing-here`);
  });
});

describe('HTTP throughput', () => {
  it('serves 200 x 1 MiB GETs with 8 in flight', async () => {
    const count = 200;
    const blob = pseudoRandomBytes(MiB, 77);
    const keys = Array.from({ length: count }, (_, i) => `data/tp/${String(i).padStart(4, '0')}`);
    // Plain writes (no fsync): only the reading side is measured.
    await mkdir(join(root, 'tp', 'data', 'tp'), { recursive: true });
    await Promise.all(keys.map((key) => writeFile(join(root, 'tp', key), blob)));
    const backend = open(`${nginx.url}/tp/`);
    const logBefore = (await nginx.logLines()).length;
    const bytesBefore = await nginx.bytesServed('/tp/');
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < count) {
          const key = keys[next++]!;
          const got = await backend.get(key);
          if (got.length !== MiB) throw new Error(`short read of ${key}`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(
      `[http] ${count} x 1 MiB GETs, 8 in flight: ${seconds.toFixed(2)} s, ${(count / seconds).toFixed(0)} MiB/s\n`,
    );
    await nginx.waitForLogLines(logBefore + count);
    expect((await nginx.bytesServed('/tp/')) - bytesBefore).toBe(count * MiB);
  });
});
