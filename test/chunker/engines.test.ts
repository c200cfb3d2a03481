/**
 * The two engines of the cut search: WebAssembly (scan.wat, the default) and TypeScript
 * (scan.ts, with CAIRN_CHUNKER=js or without WebAssembly). Both must cut exactly where
 * the byte-at-a-time BigInt reference cuts, for buffers the WebAssembly module owns (cut
 * in place) and for any other buffer (copied in 64 KiB pieces). fastcdc.test.ts runs the
 * upstream vectors and property tests on the default engine.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChunkerParams, chunkerParams, FastCDC } from '../../src/chunker/index.js';
import {
  giveBackScanBuffer,
  setScanEngine,
  takeScanBuffer,
  wasmScanEnabled,
} from '../../src/chunker/scan-wasm.js';
import { cairnBinary } from '../helpers/compiled.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { dataArb, paramsArb, U64 } from './arbitraries.js';
import { pseudoRandom, refChunks } from './reference.js';

afterAll(() => setScanEngine('wasm'));

const pairs = (spans: Array<{ offset: number; length: number }>) =>
  spans.map((s) => [s.offset, s.length]);

/** `data` copied into a buffer the WebAssembly module owns, at byte offset `shift`. */
function owned(data: Uint8Array, shift: number): Uint8Array {
  const buf = takeScanBuffer(data.length + shift + 8);
  buf.set(data, shift);
  return buf.subarray(shift, shift + data.length);
}

/** Parameter sets whose search ranges span several 64 KiB pieces, and seeds. */
const LARGE: ChunkerParams[] = [
  { min: 4096, avg: 16384, max: 65535, level: 1 },
  { min: 100_001, avg: 300_000, max: 1_000_003, level: 3, seed: 0xdeadbeefn },
  { min: 262_144, avg: 1_048_576, max: 4_194_304, level: 2, seed: U64 },
].map((p) => chunkerParams(p));

describe.each(['wasm', 'js'] as const)('the %s engine', (engine) => {
  it('cuts any buffer where the reference cuts (random data, odd params, seeds)', () => {
    setScanEngine(engine);
    expect(wasmScanEnabled()).toBe(engine === 'wasm');
    fc.assert(
      fc.property(dataArb, paramsArb, fc.integer({ min: 0, max: 7 }), (data, params, shift) => {
        const want = refChunks(data, params);
        const plain = new Uint8Array(data.length + shift);
        plain.set(data, shift);
        const cdc = new FastCDC(params);
        expect(pairs(cdc.cutPoints(plain.subarray(shift)))).toEqual(want);
        expect(pairs(cdc.cutPoints(owned(data, shift)))).toEqual(want);
      }),
      { numRuns: 120 },
    );
  });

  it('cuts where the reference cuts when the search spans many 64 KiB pieces', () => {
    setScanEngine(engine);
    // Random data, then zeros (no position hashes to a hit: every chunk runs to max).
    const data = new Uint8Array(6_000_000);
    data.set(pseudoRandom(3_000_000, 99));
    for (const params of LARGE) {
      const want = refChunks(data, params);
      const cdc = new FastCDC(params);
      expect(pairs(cdc.cutPoints(data))).toEqual(want);
      expect(pairs(cdc.cutPoints(owned(data, 3)))).toEqual(want);
    }
  }, 120_000);

  it('interleaves chunkers with different seeds on one owned buffer', () => {
    setScanEngine(engine);
    const data = owned(pseudoRandom(200_000, 7), 1);
    const a = chunkerParams({ min: 512, avg: 2048, max: 8192, level: 1, seed: 1n });
    const b = chunkerParams({ min: 700, avg: 3000, max: 9000, level: 2, seed: 2n });
    const ca = new FastCDC(a);
    const cb = new FastCDC(b);
    const got: { a: number[][]; b: number[][] } = { a: [], b: [] };
    for (let pa = 0, pb = 0; pa < data.length || pb < data.length; ) {
      if (pa < data.length) {
        const n = ca.cut(data, pa);
        got.a.push([pa, n]);
        pa += n;
      }
      if (pb < data.length) {
        const n = cb.cut(data, pb);
        got.b.push([pb, n]);
        pb += n;
      }
    }
    expect(got.a).toEqual(refChunks(data, a));
    expect(got.b).toEqual(refChunks(data, b));
  });
});

describe('scan buffers', () => {
  it('a view reaching below the data area is copied, never cut over the tables', () => {
    setScanEngine('wasm');
    const params = chunkerParams({ min: 512, avg: 2048, max: 8192, level: 1, seed: 5n });
    const data = pseudoRandom(100_000, 11);
    const lent = takeScanBuffer(data.length);
    lent.set(data);
    // The whole memory, tables included, as a caller could take it from `lent.buffer`.
    const whole = new Uint8Array(lent.buffer);
    const at = lent.byteOffset;
    const cdc = new FastCDC(params);
    const want = refChunks(data, params);
    const region = whole.subarray(0, at + data.length);
    const before = region.slice();
    expect(pairs(cdc.cutPoints(region))).toEqual(refChunks(before, params));
    expect(region).toEqual(before);
    // The tables are intact: cuts in the lent buffer itself still match the reference.
    expect(pairs(cdc.cutPoints(lent))).toEqual(want);
  });

  it('are lent again once given back, a few per size', () => {
    setScanEngine('wasm');
    const first = takeScanBuffer(12_345);
    const second = takeScanBuffer(12_345);
    expect(second).not.toBe(first);
    expect(first.length).toBe(12_345);
    giveBackScanBuffer(first);
    giveBackScanBuffer(first);
    expect(takeScanBuffer(12_345)).toBe(first);
    expect(takeScanBuffer(12_345)).not.toBe(first);
    expect(takeScanBuffer(54_321).length).toBe(54_321);
  });
});

describe('CAIRN_CHUNKER', () => {
  const BIN = cairnBinary();
  const chunk = (file: string, value: string | undefined) =>
    spawnSync(process.execPath, [BIN, 'chunk', file, '--avg', '16K'], {
      encoding: 'utf8',
      env: { ...process.env, CAIRN_CHUNKER: value },
    });

  it('a bad value stops a backup before it starts, instead of leaving large files out', async () => {
    const base = await tempDir();
    const src = join(base, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'big'), pseudoRandomBytes(3_000_000, 9));
    const env = { ...process.env, CAIRN_CACHE_DIR: join(base, 'cache') };
    const repo = join(base, 'repo');
    const run = (args: string[], extra: Record<string, string> = {}) =>
      spawnSync(process.execPath, [BIN, '--repo', repo, ...args], {
        encoding: 'utf8',
        env: { ...env, ...extra },
      });
    expect(run(['init', '--no-encryption']).status).toBe(0);
    const bad = run(['backup', src], { CAIRN_CHUNKER: 'simd' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/CAIRN_CHUNKER must be wasm, js or unset/);
    expect(existsSync(join(repo, 'snapshots')) ? readdirSync(join(repo, 'snapshots')) : []).toEqual(
      [],
    );
  });

  it('js and wasm print the same chunks; another value is refused by name', async () => {
    const file = join(await tempDir(), 'data');
    writeFileSync(file, pseudoRandomBytes(1_500_000, 3));
    const wasm = chunk(file, 'wasm');
    const js = chunk(file, 'js');
    expect(wasm.status, wasm.stderr).toBe(0);
    expect(js.status, js.stderr).toBe(0);
    expect(wasm.stdout.trim().split('\n').length).toBeGreaterThan(40);
    expect(js.stdout).toBe(wasm.stdout);
    expect(chunk(file, undefined).stdout).toBe(wasm.stdout);
    const bad = chunk(file, 'simd');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/CAIRN_CHUNKER must be wasm, js or unset, not "simd"/);
  });
});

describe('the assembled module', () => {
  it('is what scripts/build-wasm.mjs makes of scan.wat (scan-wasm-bytes.ts is current)', () => {
    const check = spawnSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], {
      encoding: 'utf8',
    });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});
