/**
 * S3Backend against a real Ceph RGW on loopback (test/helpers/rgw.ts starts it), plus
 * the fault proxy for broken connections and error answers. Nothing about S3 is mocked.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RetryBackend } from '../../src/backends/retry.js';
import { S3Backend } from '../../src/backends/s3.js';
import { parseS3Url } from '../../src/backends/s3-url.js';
import { BackendError, NotFoundError, UsageError } from '../../src/core/errors.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import {
  createTestBucket,
  type RgwServer,
  rgwServer,
  stopRgw,
  type TestBucket,
} from '../helpers/rgw.js';

const MiB = 1024 * 1024;

let server: RgwServer;
let bucket: TestBucket;
/** Backends opened by tests, closed in afterAll. */
const opened: S3Backend[] = [];

/** The shared bucket, created on first use (the conformance setup may need it first). */
let ready: Promise<void> | undefined;
function prepare(): Promise<void> {
  ready ??= (async () => {
    server = await rgwServer();
    if (server.startMs !== undefined) {
      process.stderr.write(`[rgw] ${server.endpoint} started in ${server.startMs} ms\n`);
    }
    bucket = await createTestBucket(server, 's3-test');
  })();
  return ready;
}

/** An S3Backend on the shared bucket under its own random prefix. */
function open(overrides: Parameters<TestBucket['open']>[1] = {}): S3Backend {
  const backend = bucket.open(`t-${randomBytes(4).toString('hex')}`, overrides);
  opened.push(backend);
  return backend;
}

/** The same bucket and credentials, reached through a fault proxy. */
function openVia(proxy: FaultProxy, prefix = `p-${randomBytes(4).toString('hex')}`): S3Backend {
  const backend = S3Backend.fromUrl(`s3:${proxy.url}/${bucket.bucket}/${prefix}`, {
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
  });
  opened.push(backend);
  return backend;
}

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

beforeAll(prepare, 180_000);

afterAll(async () => {
  await Promise.all(opened.map((b) => b.close()));
  await bucket?.remove();
  await stopRgw();
}, 60_000);

describeBackendConformance('s3 (Ceph RGW)', async () => {
  await prepare();
  return { backend: bucket.open('conformance') };
});

describe('S3 locations', () => {
  it.each([
    ['s3:my-bucket', { bucket: 'my-bucket', prefix: '', location: 's3:my-bucket' }],
    ['s3:my-bucket/', { bucket: 'my-bucket', prefix: '', location: 's3:my-bucket' }],
    ['s3:my.bucket/a/b', { bucket: 'my.bucket', prefix: 'a/b/', location: 's3:my.bucket/a/b' }],
    [
      's3://my-bucket/repo/',
      { bucket: 'my-bucket', prefix: 'repo/', location: 's3:my-bucket/repo' },
    ],
    [
      's3:http://127.0.0.1:7480/bkt/some/prefix',
      {
        bucket: 'bkt',
        prefix: 'some/prefix/',
        endpoint: 'http://127.0.0.1:7480',
        location: 's3:http://127.0.0.1:7480/bkt/some/prefix',
      },
    ],
    [
      's3:https://S3.Example.com/bkt',
      {
        bucket: 'bkt',
        prefix: '',
        endpoint: 'https://s3.example.com',
        location: 's3:https://s3.example.com/bkt',
      },
    ],
    [
      's3:http://[::1]:9000/bkt/my%20repo',
      { bucket: 'bkt', prefix: 'my repo/', endpoint: 'http://[::1]:9000' },
    ],
  ])('parses %s', (url, expected) => {
    expect(parseS3Url(url)).toMatchObject(expected);
    const parsed = parseS3Url(url);
    if (!('endpoint' in expected)) expect(parsed.endpoint).toBeUndefined();
  });

  it.each([
    ['', 'does not start'],
    ['s3:', 'bucket name is missing'],
    ['s3:/x', 'bucket name is missing'],
    ['s3:ab', 'not a valid bucket'],
    ['s3:My_Bucket', 'not a valid bucket'],
    ['s3:bucket//x', 'empty path segment'],
    ['s3:bucket/../x', '".."'],
    ['s3:bucket/./x', '"."'],
    ['s3:http://host:9000/', 'bucket name is missing'],
    ['s3:http://host:9000', 'bucket name is missing'],
    ['s3:http://host/bkt?region=x', 'query'],
    ['s3:http://:9000/bkt', 'not a valid URL'],
    ['s3:ftp://host/bkt', 'not a valid bucket'],
    ['http://host/bkt', 'does not start'],
  ])('rejects %j with a usage error', (url, problem) => {
    const err = (() => {
      try {
        S3Backend.fromUrl(url);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(problem);
    expect((err as Error).message).toContain('expected s3:BUCKET/PREFIX');
  });

  it('rejects credentials in the URL without echoing them', () => {
    const err = (() => {
      try {
        parseS3Url('s3:http://AKIDEXAMPLE:topsecret@127.0.0.1:9000/bkt');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(err?.message).toContain('credentials');
    expect(err?.message).not.toContain('topsecret');
    expect(err?.message).not.toContain('AKIDEXAMPLE');
  });

  it('opens without contacting the server and names the location', async () => {
    const backend = S3Backend.fromUrl('s3:http://127.0.0.1:1/bkt/pre');
    expect(backend.location).toBe('s3:http://127.0.0.1:1/bkt/pre');
    expect(backend.bucket).toBe('bkt');
    expect(backend.prefix).toBe('pre/');
    expect(backend.capabilities).toEqual({ writable: true, listable: true, atomicCreate: true });
    expect(S3Backend.fromUrl('s3:b-b-b', { atomicCreate: false }).capabilities.atomicCreate).toBe(
      false,
    );
    await backend.close();
  });

  it('rejects a malformed endpoint from the environment or an override', () => {
    vi.stubEnv('AWS_ENDPOINT_URL', '127.0.0.1:9000');
    try {
      expect(() => S3Backend.fromUrl('s3:bkt')).toThrow(/AWS_ENDPOINT_URL.*127\.0\.0\.1:9000/);
      // An endpoint in the location wins over the environment.
      expect(S3Backend.fromUrl('s3:http://h:1/bkt').location).toBe('s3:http://h:1/bkt');
    } finally {
      vi.unstubAllEnvs();
    }
    expect(() => S3Backend.fromUrl('s3:bkt', { endpoint: 'http://h/path' })).toThrow(UsageError);
    expect(S3Backend.fromUrl('s3:bkt/p', { endpoint: 'https://h:9/' }).location).toBe(
      's3:https://h:9/bkt/p',
    );
  });

  it('honours AWS_ENDPOINT_URL for the bucket form', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL', 'http://127.0.0.1:9');
    try {
      const backend = S3Backend.fromUrl('s3:bkt/x', {
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      });
      expect(backend.location).toBe('s3:http://127.0.0.1:9/bkt/x');
      // Port 9 refuses connections: the call must fail as a retryable network error.
      const err = await rejectionOf(backend.stat('k'));
      expect(err).toBeInstanceOf(BackendError);
      expect((err as BackendError).retryable).toBe(true);
      expect((err as Error).message).toContain('bkt/x/k');
      await backend.close();
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('S3Backend on Ceph RGW', () => {
  it('reports a missing key as not-found naming the key', async () => {
    const backend = open();
    for (const call of [() => backend.get('no/such'), () => backend.stat('no/such')]) {
      const err = await rejectionOf(call());
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as NotFoundError).what).toBe('no/such');
    }
  });

  it('reports a wrong secret key as a clear non-retryable error', async () => {
    const backend = open({
      credentials: { accessKeyId: server.accessKey, secretAccessKey: 'wrong-secret' },
    });
    const err = await rejectionOf(backend.put('k', new Uint8Array(3)));
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ retryable: false, status: 403 });
    expect((err as Error).message).toMatch(/SignatureDoesNotMatch \(HTTP 403\).*secret key/);
    // A wrong key must not look like a missing object either.
    // HEAD answers have no body: the status must still give a clear message.
    const headErr = await rejectionOf(backend.stat('k'));
    expect(headErr).toMatchObject({ code: 'backend', retryable: false, status: 403 });
    expect((headErr as Error).message).toMatch(/HTTP 403.*access denied.*secret key/);
  });

  it('reports an unknown access key as non-retryable', async () => {
    const backend = open({ credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' } });
    const err = await rejectionOf(backend.get('k'));
    expect(err).toMatchObject({ code: 'backend', retryable: false, status: 403 });
    expect((err as Error).message).toContain('InvalidAccessKeyId');
  });

  it('reports a missing bucket as a backend error, not as a missing key', async () => {
    const backend = S3Backend.fromUrl(`s3:${server.endpoint}/no-such-bucket-${Date.now()}/p`, {
      credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    });
    opened.push(backend);
    for (const call of [() => backend.get('k'), () => backend.stat('k')]) {
      const err = await rejectionOf(call());
      expect(err).toMatchObject({ code: 'backend', retryable: false, status: 404 });
      expect((err as Error).message).toMatch(/bucket|NoSuchBucket/);
    }
    const listErr = await rejectionOf(
      (async () => {
        for await (const _ of backend.list('')) {
          // nothing expected
        }
      })(),
    );
    expect((listErr as Error).message).toContain('NoSuchBucket');
  });

  it('stores under its prefix and lists keys relative to it', async () => {
    const a = open();
    const b = open();
    await a.put('data/x', new Uint8Array([1]));
    await b.put('data/y', new Uint8Array([2, 2]));
    const listA: string[] = [];
    for await (const info of a.list('data/')) listA.push(info.key);
    expect(listA).toEqual(['data/x']);
    await expect(b.get('data/x')).rejects.toBeInstanceOf(NotFoundError);
    // The other backend's object is really at PREFIX/KEY in the bucket.
    const root = bucket.open();
    opened.push(root);
    expect(await root.get(`${a.prefix}data/x`)).toEqual(new Uint8Array([1]));
  });

  it('stores exactly the bytes of a view into a larger buffer', async () => {
    const backend = open();
    const whole = new Uint8Array(randomBytes(4096));
    const view = whole.subarray(1000, 3000);
    expect(await backend.put('view', view)).toBe(true);
    expect(Buffer.from(await backend.get('view')).equals(view)).toBe(true);
    expect((await backend.stat('view')).size).toBe(2000);
  });

  it('answers ranges at and past the end of an object, empty ones included', async () => {
    const backend = open();
    const data = new Uint8Array(randomBytes(100));
    await backend.put('obj', data);
    await backend.put('empty', new Uint8Array(0));
    expect(await backend.get('obj', { offset: 100 })).toEqual(new Uint8Array(0));
    expect(await backend.get('obj', { offset: 40, length: 0 })).toEqual(new Uint8Array(0));
    expect(await backend.get('empty', { offset: 0, length: 10 })).toEqual(new Uint8Array(0));
    expect(await backend.get('empty', { offset: 0 })).toEqual(new Uint8Array(0));
    for (const call of [
      () => backend.get('obj', { offset: 101 }),
      () => backend.get('obj', { offset: 101, length: 0 }),
      () => backend.get('empty', { offset: 1 }),
    ]) {
      expect(await rejectionOf(call())).toMatchObject({
        code: 'backend',
        retryable: false,
        status: 416,
      });
    }
  });

  it('pages through long listings and deletes in batches with deleteMany', async () => {
    // Pages and batches of 7 exercise the same code paths as S3's 1000 with fewer objects.
    const backend = open({ listPageSize: 7, deleteBatchSize: 7 });
    const keys = Array.from({ length: 52 }, (_, i) => `many/k${i}`);
    await Promise.all(keys.map((k) => backend.put(k, new Uint8Array([7]))));
    await backend.put('other/k', new Uint8Array(2));
    const listed = new Set<string>();
    for await (const { key, size } of backend.list('many/')) {
      expect(listed.has(key)).toBe(false);
      expect(size).toBe(1);
      listed.add(key);
    }
    expect(listed).toEqual(new Set(keys));
    await backend.deleteMany([...keys, 'many/never-existed']);
    const left: string[] = [];
    for await (const { key } of backend.list('')) left.push(key);
    expect(left).toEqual(['other/k']);
  });

  it('rejects batch sizes S3 does not allow', () => {
    expect(() => open({ listPageSize: 0 })).toThrow(UsageError);
    expect(() => open({ deleteBatchSize: 1001 })).toThrow(UsageError);
  });

  it('moves 100 x 1 MiB with 8 in flight, intact', async () => {
    const backend = open();
    const objects = Array.from({ length: 100 }, (_, i) => ({
      key: `tp/${i}`,
      data: new Uint8Array(randomBytes(MiB)),
    }));
    const inFlight = async (fn: (o: (typeof objects)[number]) => Promise<void>) => {
      let next = 0;
      const worker = async () => {
        while (next < objects.length) await fn(objects[next++]!);
      };
      const started = performance.now();
      await Promise.all(Array.from({ length: 8 }, worker));
      return performance.now() - started;
    };
    const putMs = await inFlight(async ({ key, data }) => {
      expect(await backend.put(key, data)).toBe(true);
    });
    const getMs = await inFlight(async ({ key, data }) => {
      expect(Buffer.from(await backend.get(key)).equals(data)).toBe(true);
    });
    const rate = (ms: number) => `${((100 * 1000) / ms).toFixed(0)}/s`;
    process.stderr.write(
      `[s3 throughput] 100 x 1 MiB, 8 in flight: PUT ${putMs.toFixed(0)} ms (${rate(putMs)}), ` +
        `GET ${getMs.toFixed(0)} ms (${rate(getMs)})\n`,
    );
    await backend.deleteMany(objects.map((o) => o.key));
  });

  it('cancels a request in flight with an aborted error', async () => {
    const proxy = await startFaultProxy({ target: server.endpoint, latencyMs: 1000 });
    try {
      const backend = openVia(proxy);
      const started = Date.now();
      const err = await rejectionOf(backend.stat('k', { signal: AbortSignal.timeout(100) }));
      expect(err).toMatchObject({ code: 'aborted' });
      expect(Date.now() - started).toBeLessThan(900);
    } finally {
      await proxy.close();
    }
  });
});

describe('S3Backend with a stalled download', () => {
  let proxy: FaultProxy;
  let prefix = '';
  beforeAll(async () => {
    await prepare();
    const direct = open();
    prefix = direct.prefix.slice(0, -1);
    await direct.put('big', new Uint8Array(randomBytes(2 * MiB)));
    proxy = await startFaultProxy({ target: server.endpoint, stallMs: 1500 });
  });
  afterAll(() => proxy?.close());

  it('stops reading the body when the signal fires', async () => {
    const backend = openVia(proxy, prefix);
    const started = Date.now();
    const err = await rejectionOf(backend.get('big', { signal: AbortSignal.timeout(300) }));
    expect(err).toMatchObject({ code: 'aborted' });
    expect(Date.now() - started).toBeLessThan(1400);
  });

  it('gives up on an idle connection with a retryable error', async () => {
    const backend = S3Backend.fromUrl(`s3:${proxy.url}/${bucket.bucket}/${prefix}`, {
      credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
      idleTimeoutMs: 300,
    });
    opened.push(backend);
    const started = Date.now();
    const err = await rejectionOf(backend.get('big'));
    expect(err).toMatchObject({ code: 'backend', retryable: true });
    expect(Date.now() - started).toBeLessThan(1400);
  });
});

describe('S3Backend on the wire', () => {
  it('sends Content-MD5 and no SDK checksums or aws-chunked bodies', async () => {
    const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }> = [];
    const proxy = await startFaultProxy({
      target: server.endpoint,
      observe: (req) =>
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers }),
    });
    try {
      const backend = openVia(proxy);
      await backend.put('a', new Uint8Array(randomBytes(3 * MiB)));
      await backend.put('b', new Uint8Array(10), { ifNotExists: true });
      await backend.deleteMany(['a', 'b']);
      const put = seen.find((r) => r.method === 'PUT');
      const del = seen.find((r) => r.method === 'POST' && r.url.includes('delete'));
      for (const req of [put, del]) {
        expect(req).toBeDefined();
        expect(req!.headers['content-md5']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
        expect(Object.keys(req!.headers).filter((h) => h.startsWith('x-amz-checksum-'))).toEqual(
          [],
        );
        expect(req!.headers['content-encoding'] ?? '').not.toContain('aws-chunked');
        expect(req!.headers.expect).toBeUndefined();
      }
      expect(put!.headers['content-length']).toBe(String(3 * MiB));
      expect(seen.some((r) => r.headers['if-none-match'] === '*')).toBe(true);
      // All requests went over a handful of kept-alive connections.
      expect(seen.every((r) => r.headers.connection !== 'close')).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('classifies injected 500/503 answers as retryable', async () => {
    const proxy = await startFaultProxy({ target: server.endpoint, errorRate: 1 });
    try {
      const backend = openVia(proxy);
      for (const call of [
        () => backend.get('k'),
        () => backend.put('k', new Uint8Array(4)),
        () => backend.stat('k'),
        () => backend.delete('k'),
      ]) {
        const err = await rejectionOf(call());
        expect(err).toBeInstanceOf(BackendError);
        expect((err as BackendError).retryable).toBe(true);
        expect([500, 503]).toContain((err as BackendError).status);
      }
      expect(proxy.stats.errors).toBe(4);
    } finally {
      await proxy.close();
    }
  });

  it('classifies reset connections and cut-off bodies as retryable, never as data', async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const backend = openVia(proxy);
      const data = new Uint8Array(randomBytes(MiB));
      await backend.put('obj', data);
      for (const resetMode of ['before', 'truncate'] as const) {
        const faulty = await startFaultProxy({ target: server.endpoint, resetRate: 1, resetMode });
        try {
          const broken = openVia(faulty, backend.prefix.slice(0, -1));
          for (const call of [() => broken.get('obj'), () => broken.get('obj', { offset: 10 })]) {
            const err = await rejectionOf(call());
            expect(err, resetMode).toBeInstanceOf(BackendError);
            expect((err as BackendError).retryable, String(err)).toBe(true);
          }
          const putErr = await rejectionOf(broken.put('other', data));
          expect((putErr as BackendError).retryable, String(putErr)).toBe(true);
        } finally {
          await faulty.close();
        }
        expect(faulty.stats.resets + faulty.stats.truncated).toBe(3);
      }
    } finally {
      await proxy.close();
    }
  });

  it('round-trips data through RetryBackend over a faulty connection', async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      resetRate: 0.2,
      errorRate: 0.2,
      seed: 42,
    });
    try {
      const backend = new RetryBackend(openVia(proxy), {
        retries: 12,
        baseDelayMs: 1,
        maxDelayMs: 20,
      });
      const objects = Array.from({ length: 24 }, (_, i) => ({
        key: `obj${i}`,
        data: new Uint8Array(randomBytes(1000 + i * 5000)),
      }));
      await Promise.all(objects.map(({ key, data }) => backend.put(key, data)));
      for (const { key, data } of objects) {
        expect(Buffer.from(await backend.get(key)).equals(data)).toBe(true);
        expect(await backend.put(key, new Uint8Array(1), { ifNotExists: true })).toBe(false);
      }
      const listed: string[] = [];
      for await (const { key } of backend.list('')) listed.push(key);
      expect(listed.sort()).toEqual(objects.map((o) => o.key).sort());
      expect(proxy.stats.errors + proxy.stats.resets + proxy.stats.truncated).toBeGreaterThan(5);
    } finally {
      await proxy.close();
    }
  });
});
