/**
 * Chunker throughput: cut points only (no hashing of chunks) over deterministic
 * pseudo-random data held in memory, single core, for each engine of the cut search:
 * WebAssembly on a buffer it owns (as backups read files), WebAssembly on any other
 * buffer (copied in 64 KiB pieces), and TypeScript (CAIRN_CHUNKER=js). Uses the build
 * output, so run `npm run build` first.
 *
 *   node bench/chunker-bench.mjs [sizeMiB]
 *
 * MB/s are 10^6 bytes per second of input.
 */
import { pathToFileURL } from 'node:url';
import { distModule } from './dist.mjs';

const { chunkerParams, FastCDC } = await distModule('chunker/index.js');
const { setScanEngine, takeScanBuffer } = await distModule('chunker/scan-wasm.js');

/** The ways to cut that `benchChunker` measures (`engine`). */
export const ENGINES = ['wasm', 'wasm-copied', 'js'];

/** Deterministic pseudo-random bytes (xorshift32, one 32-bit word at a time). */
function pseudoRandomBytes(bytes, seed = 0x9e3779b9) {
  const words = new Int32Array(Math.ceil(bytes / 4));
  let x = seed | 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, bytes);
}

const DEFAULT_PARAMS = { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };

/**
 * Cut-point throughput over `sizeMiB` MiB of pseudo-random data with `engine` (one of
 * ENGINES). Runs `runs` passes after one warm-up pass and reports the best (the least
 * disturbed by other load), plus the median. Returns `{ mbPerSec, medianMbPerSec, bytes,
 * chunks, params }`.
 */
export async function benchChunker({
  sizeMiB = 256,
  params = DEFAULT_PARAMS,
  runs = 3,
  data = undefined,
  engine = 'wasm',
} = {}) {
  const bytes = sizeMiB * 1024 * 1024;
  let input = data ?? pseudoRandomBytes(bytes);
  setScanEngine(engine === 'js' ? 'js' : 'wasm');
  if (engine === 'wasm') {
    const owned = takeScanBuffer(input.length);
    owned.set(input);
    input = owned;
  }
  const cdc = new FastCDC(chunkerParams(params));
  const pass = () => {
    let chunks = 0;
    for (const _ of cdc.spans(input)) chunks++;
    return chunks;
  };
  // Warm-up on a slice so the JIT has optimised the loop before timing.
  for (const _ of cdc.spans(input.subarray(0, Math.min(input.length, 16 << 20)))) {
    // nothing
  }
  const rates = [];
  let chunks = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    chunks = pass();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(input.length / 1e6 / seconds);
  }
  rates.sort((a, b) => a - b);
  return {
    mbPerSec: Math.round(rates[rates.length - 1]),
    medianMbPerSec: Math.round(rates[Math.floor(rates.length / 2)]),
    bytes: input.length,
    chunks,
    params: cdc.params,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizeMiB = Number(process.argv[2] ?? 256);
  const data = pseudoRandomBytes(sizeMiB * 1024 * 1024);
  const sets = [
    DEFAULT_PARAMS,
    { min: 4 * 1024, avg: 16 * 1024, max: 64 * 1024 },
    { min: 64 * 1024, avg: 256 * 1024, max: 1024 * 1024 },
    { min: 256 * 1024, avg: 1024 * 1024, max: 4096 * 1024 },
  ];
  console.log(`node ${process.version}, ${sizeMiB} MiB pseudo-random data, cut points only`);
  console.log('| engine | min | avg | max | best MB/s | median MB/s | chunks |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const params of sets) {
    for (const engine of ENGINES) {
      const r = await benchChunker({ sizeMiB, params, data, runs: 5, engine });
      const k = (n) => `${n / 1024}K`;
      console.log(
        `| ${engine} | ${k(params.min)} | ${k(params.avg)} | ${k(params.max)} | ${r.mbPerSec} | ${r.medianMbPerSec} | ${r.chunks} |`,
      );
    }
  }
}
