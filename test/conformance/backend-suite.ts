/**
 * The conformance suite every Backend runs: one test per MUST of the contract in
 * src/backends/backend.ts, plus the behaviour the layers above rely on.
 *
 * It is written for shared, remote stores too (S3 on Ceph RGW, read-only HTTP over
 * nginx): every test works under its own fresh key prefix, listings are compared as
 * sets (no order), and nothing beyond read-after-write (and read-after-delete)
 * consistency is assumed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, type ObjectInfo, validateKey } from '../../src/backends/backend.js';
import { BackendError, CairnError } from '../../src/core/errors.js';

/** What a conformance run needs from the backend under test. */
export interface BackendFixture {
  backend: Backend;
  /** Releases the backend and its storage. Without it the suite calls `backend.close()`. */
  cleanup?: () => Promise<void>;
  /** for read-only backends: writes an object through another route */
  seed?: (key: string, data: Uint8Array) => Promise<void>;
}

/** How to run the suite. */
export interface ConformanceOptions {
  /** The backend rejects writes; objects are created with `fixture.seed`. */
  readOnly?: boolean;
  /** The backend can list (default true); when false the list tests are skipped. */
  listable?: boolean;
}

/** Keys the contract says are invalid; every verb must reject them. */
export const INVALID_KEYS = ['../x', '/abs', 'A', 'a//b', 'a/./b', 'a/../b', 'a/', '', 'a b'];

const MiB = 1024 * 1024;

/** Runs the rejection of `p` and returns the error (fails the test if `p` resolves). */
async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to reject, but it resolved');
}

/** Collects a listing, failing on duplicates. */
async function collect(entries: AsyncIterable<ObjectInfo>): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for await (const { key, size } of entries) {
    expect(seen.has(key), `list yielded ${key} twice`).toBe(false);
    seen.set(key, size);
  }
  return seen;
}

/** Asserts that two byte arrays are equal without dumping megabytes on failure. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual.length).toBe(expected.length);
  const same = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected);
  expect(same, 'bytes differ').toBe(true);
}

/** An error that is not worth retrying: not a BackendError marked retryable. */
function expectNotRetryable(err: unknown): void {
  expect(err).toBeInstanceOf(CairnError);
  if (err instanceof BackendError) expect(err.retryable).toBe(false);
}

/** The rejection of an invalid key: the RangeError of validateKey or a `usage` error. */
function expectInvalidKeyError(err: unknown, key: string): void {
  const ok = err instanceof RangeError || (err instanceof CairnError && err.code === 'usage');
  expect(ok, `key ${JSON.stringify(key)} rejected with ${String(err)}`).toBe(true);
}

function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/**
 * Declares a vitest `describe` block checking `setup()`'s backend against the contract.
 * `setup` runs once (beforeAll); tests share the backend but not keys.
 */
export function describeBackendConformance(
  name: string,
  setup: () => Promise<BackendFixture>,
  options: ConformanceOptions = {},
): void {
  const readOnly = options.readOnly ?? false;
  const listable = options.listable ?? true;
  const runPrefix = `conformance-${randomBytes(4).toString('hex')}`;
  let fixture: BackendFixture | undefined;
  let tests = 0;

  const backend = (): Backend => {
    if (!fixture) throw new Error('conformance setup failed');
    return fixture.backend;
  };
  /** A key prefix no other test uses, without a trailing '/'. */
  const fresh = (): string => `${runPrefix}/t${++tests}`;
  /** Stores an object through the backend, or through the seed route when read-only. */
  const write = async (key: string, data: Uint8Array): Promise<void> => {
    if (readOnly) await fixture!.seed!(key, data);
    else expect(await backend().put(key, data)).toBe(true);
  };
  const writable = it.skipIf(readOnly);
  const listing = it.skipIf(!listable);

  describe(`backend conformance: ${name}`, () => {
    beforeAll(async () => {
      fixture = await setup();
      if (readOnly && !fixture.seed) throw new Error('a read-only fixture needs seed()');
    });

    afterAll(async () => {
      if (!fixture) return;
      const b = fixture.backend;
      if (!readOnly && listable) {
        // Leave a shared bucket as we found it.
        for await (const { key } of b.list(`${runPrefix}/`)) await b.delete(key);
      }
      if (fixture.cleanup) await fixture.cleanup();
      else await b.close();
    });

    describe('basics', () => {
      it('declares its location and capabilities', () => {
        expect(typeof backend().location).toBe('string');
        expect(backend().location.length).toBeGreaterThan(0);
        expect(backend().capabilities.writable).toBe(!readOnly);
        expect(backend().capabilities.listable).toBe(listable);
        expect(typeof backend().capabilities.atomicCreate).toBe('boolean');
      });

      it.each([
        ['an empty object', 0],
        ['a 1-byte object', 1],
        ['a 3 MiB object', 3 * MiB + 17],
      ])('round-trips %s through get and stat', async (_label, size) => {
        const key = `${fresh()}/obj`;
        const data = bytes(size);
        await write(key, data);
        expectBytes(await backend().get(key), data);
        expect(await backend().stat(key)).toEqual({ key, size });
      });

      it('keeps every byte value intact', async () => {
        const key = `${fresh()}/binary`;
        const data = new Uint8Array(4 * 256);
        for (let i = 0; i < data.length; i++) data[i] = (i * 167 + (i >> 8)) & 0xff;
        expect(new Set(data).size).toBe(256);
        await write(key, data);
        expectBytes(await backend().get(key), data);
      });

      it('returns a copy that callers may modify', async () => {
        const key = `${fresh()}/copy`;
        const data = bytes(64);
        await write(key, data);
        const first = await backend().get(key);
        first.fill(0);
        expectBytes(await backend().get(key), data);
      });

      it('rejects get and stat of a missing key with not-found naming the key', async () => {
        const key = `${fresh()}/missing`;
        for (const call of [
          () => backend().get(key),
          () => backend().stat(key),
          () => backend().get(key, { offset: 1, length: 2 }),
        ]) {
          const err = await rejectionOf(call());
          expect(err).toMatchObject({ code: 'not-found' });
          expect((err as Error).message).toContain(key);
        }
      });

      it('treats a key below an existing object as missing', async () => {
        const p = fresh();
        await write(`${p}/file`, bytes(3));
        expect(await rejectionOf(backend().get(`${p}/file/below`))).toMatchObject({
          code: 'not-found',
        });
        expect(await rejectionOf(backend().stat(`${p}/file/below`))).toMatchObject({
          code: 'not-found',
        });
      });

      it('rejects invalid keys on every verb without touching storage', async () => {
        for (const key of INVALID_KEYS) {
          expectInvalidKeyError(await rejectionOf(backend().get(key)), key);
          expectInvalidKeyError(await rejectionOf(backend().stat(key)), key);
          if (!readOnly) {
            expectInvalidKeyError(await rejectionOf(backend().put(key, bytes(1))), key);
            expectInvalidKeyError(await rejectionOf(backend().delete(key)), key);
          }
        }
      });

      it('rejects calls whose signal has already fired with code aborted', async () => {
        const key = `${fresh()}/obj`;
        await write(key, bytes(10));
        const signal = AbortSignal.abort();
        expect(await rejectionOf(backend().get(key, { signal }))).toMatchObject({
          code: 'aborted',
        });
        expect(await rejectionOf(backend().stat(key, { signal }))).toMatchObject({
          code: 'aborted',
        });
        if (listable) {
          expect(await rejectionOf(collect(backend().list(`${key}`, { signal })))).toMatchObject({
            code: 'aborted',
          });
        }
      });
    });

    describe('ranged get', () => {
      const size = 1000;
      let key = '';
      let data: Uint8Array = new Uint8Array();

      beforeAll(async () => {
        key = `${fresh()}/ranged`;
        data = bytes(size);
        await write(key, data);
      });

      it.each([
        ['a middle range', 100, 200],
        ['a prefix', 0, 10],
        ['the last byte', size - 1, 1],
        ['the whole object', 0, size],
      ])('returns %s', async (_label, offset, length) => {
        expectBytes(
          await backend().get(key, { offset, length }),
          data.subarray(offset, offset + length),
        );
      });

      it('reads to the end when no length is given', async () => {
        expectBytes(await backend().get(key, { offset: 900 }), data.subarray(900));
      });

      it('returns fewer bytes when the range runs past the end', async () => {
        expectBytes(await backend().get(key, { offset: 990, length: 100 }), data.subarray(990));
        expectBytes(await backend().get(key, { offset: 0, length: 5000 }), data);
      });

      it('rejects an offset past the end with a non-retryable error', async () => {
        for (const offset of [size + 1, size + 1000]) {
          const err = await rejectionOf(backend().get(key, { offset }));
          expectNotRetryable(err);
          expect(err).not.toMatchObject({ code: 'aborted' });
        }
      });
    });

    describe('writes', () => {
      writable('overwrites an existing object', async () => {
        const key = `${fresh()}/obj`;
        await write(key, bytes(100));
        const second = bytes(37);
        expect(await backend().put(key, second)).toBe(true);
        expectBytes(await backend().get(key), second);
        expect((await backend().stat(key)).size).toBe(37);
      });

      writable('stores a copy of the caller’s buffer', async () => {
        const key = `${fresh()}/obj`;
        const data = bytes(32);
        const expected = Uint8Array.from(data);
        await write(key, data);
        data.fill(0);
        expectBytes(await backend().get(key), expected);
      });

      writable('creates with ifNotExists only when the key is absent', async () => {
        const key = `${fresh()}/obj`;
        const first = bytes(20);
        expect(await backend().put(key, first, { ifNotExists: true })).toBe(true);
        expectBytes(await backend().get(key), first);
        expect(await backend().put(key, bytes(50), { ifNotExists: true })).toBe(false);
        expectBytes(await backend().get(key), first);
      });

      writable('lets exactly one of concurrent ifNotExists creators win', async () => {
        const key = `${fresh()}/contended`;
        const candidates = Array.from({ length: 8 }, (_, i) => bytes(1000 + i));
        const results = await Promise.all(
          candidates.map((data) => backend().put(key, data, { ifNotExists: true })),
        );
        const winners = candidates.filter((_, i) => results[i]);
        const stored = await backend().get(key);
        if (backend().capabilities.atomicCreate) expect(winners.length).toBe(1);
        else expect(winners.length).toBeGreaterThanOrEqual(1);
        // Whoever won, the object is one candidate's bytes, whole.
        const match = winners.filter((w) => Buffer.from(stored).equals(w));
        expect(match.length).toBe(1);
      });

      writable('stores many objects written concurrently', async () => {
        const p = fresh();
        const objects = Array.from({ length: 64 }, (_, i) => ({
          key: `${p}/k${i.toString().padStart(3, '0')}`,
          data: bytes((i * 997) % 5000),
        }));
        await Promise.all(objects.map(({ key, data }) => write(key, data)));
        const read = await Promise.all(objects.map(({ key }) => backend().get(key)));
        for (const [i, got] of read.entries()) expectBytes(got, objects[i]!.data);
        if (listable) {
          const listed = await collect(backend().list(`${p}/`));
          expect(listed).toEqual(new Map(objects.map(({ key, data }) => [key, data.length])));
        }
      });

      writable('deletes idempotently and only the named key', async () => {
        const p = fresh();
        await write(`${p}/x`, bytes(5));
        await write(`${p}/xy`, bytes(6));
        await backend().delete(`${p}/x`);
        expect(await rejectionOf(backend().get(`${p}/x`))).toMatchObject({ code: 'not-found' });
        expect(await rejectionOf(backend().stat(`${p}/x`))).toMatchObject({ code: 'not-found' });
        await backend().delete(`${p}/x`);
        await backend().delete(`${p}/never-existed`);
        await backend().delete(`${p}/no/such/dir`);
        expect((await backend().stat(`${p}/xy`)).size).toBe(6);
        if (listable)
          expect([...(await collect(backend().list(`${p}/`))).keys()]).toEqual([`${p}/xy`]);
      });

      writable('aborted writes have no effect', async () => {
        const p = fresh();
        const signal = AbortSignal.abort();
        expect(await rejectionOf(backend().put(`${p}/new`, bytes(5), { signal }))).toMatchObject({
          code: 'aborted',
        });
        expect(await rejectionOf(backend().stat(`${p}/new`))).toMatchObject({ code: 'not-found' });
        await write(`${p}/kept`, bytes(5));
        expect(await rejectionOf(backend().delete(`${p}/kept`, { signal }))).toMatchObject({
          code: 'aborted',
        });
        expect((await backend().stat(`${p}/kept`)).size).toBe(5);
      });

      it.skipIf(!readOnly)('rejects put and delete with usage', async () => {
        const p = fresh();
        await write(`${p}/seeded`, bytes(8));
        for (const call of [
          () => backend().put(`${p}/new`, bytes(3)),
          () => backend().put(`${p}/new`, bytes(3), { ifNotExists: true }),
          () => backend().put(`${p}/seeded`, bytes(3)),
          () => backend().delete(`${p}/seeded`),
        ]) {
          expect(await rejectionOf(call())).toMatchObject({ code: 'usage' });
        }
        expect(await rejectionOf(backend().stat(`${p}/new`))).toMatchObject({ code: 'not-found' });
        expect((await backend().stat(`${p}/seeded`)).size).toBe(8);
      });
    });

    describe('list', () => {
      const sizes: Record<string, number> = {
        a: 1,
        'ab/c': 2,
        'ab/d/e': 3,
        abc: 4,
        'b/x': 0,
        bc: 5,
      };
      let p = '';

      beforeAll(async () => {
        if (!listable) return;
        p = fresh();
        await Promise.all(Object.entries(sizes).map(([k, n]) => write(`${p}/${k}`, bytes(n))));
      });

      /** The expected listing of the test keys starting with `rel`. */
      const expected = (rel: string): Map<string, number> =>
        new Map(
          Object.entries(sizes)
            .filter(([k]) => k.startsWith(rel))
            .map(([k, n]) => [`${p}/${k}`, n]),
        );

      listing.each([
        ['a folder prefix', '/'],
        ['a nested folder prefix', '/ab/'],
        ['a partial-segment prefix', '/ab'],
        ['a one-letter partial prefix', '/a'],
        ['a prefix that crosses into folders', '/b'],
        ['a prefix equal to an object key', '/abc'],
        ['a prefix matching nothing', '/zz'],
        ['a folder prefix matching nothing', '/zz/'],
      ])('lists %s exactly once each, with sizes', async (_label, rel) => {
        expect(await collect(backend().list(`${p}${rel}`))).toEqual(expected(rel.slice(1)));
      });

      listing('lists everything for the empty prefix', async () => {
        const all = await collect(backend().list(''));
        for (const [key, size] of expected('')) expect(all.get(key)).toBe(size);
        for (const key of all.keys()) expect(() => validateKey(key)).not.toThrow();
      });

      listing('reports the same size as stat', async () => {
        for (const [key, size] of await collect(backend().list(`${p}/`))) {
          expect((await backend().stat(key)).size).toBe(size);
        }
      });

      listing('rejects invalid prefixes', async () => {
        for (const prefix of ['../', '/x', 'A/', 'a//']) {
          expectInvalidKeyError(await rejectionOf(collect(backend().list(prefix))), prefix);
        }
      });

      it.skipIf(readOnly || !listable)(
        'never lists temporary or partial objects while writes are in progress',
        async () => {
          const q = fresh();
          const size = MiB;
          const keys = [0, 1, 2, 3].map((i) => `${q}/big${i}`);
          let done = false;
          const writes = Promise.all(keys.map((k) => backend().put(k, bytes(size)))).finally(() => {
            done = true;
          });
          let rounds = 0;
          while (!done || rounds === 0) {
            for (const [key, n] of await collect(backend().list(`${q}/`))) {
              expect(keys).toContain(key);
              expect(n).toBe(size);
            }
            rounds++;
          }
          await writes;
          expect(await collect(backend().list(`${q}/`))).toEqual(
            new Map(keys.map((k) => [k, size])),
          );
        },
      );

      it.skipIf(readOnly || !listable)('stops listing a deleted object', async () => {
        const q = fresh();
        await write(`${q}/gone`, bytes(1));
        await write(`${q}/stays`, bytes(1));
        await backend().delete(`${q}/gone`);
        expect([...(await collect(backend().list(`${q}/`))).keys()]).toEqual([`${q}/stays`]);
      });
    });
  });
}
