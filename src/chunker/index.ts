/**
 * Chunker: content-defined chunking with FastCDC 2020, cutting exactly where fastcdc-rs
 * v2020 (crate 4.0.1) cuts, including its odd cases (odd min, odd max, odd tails, an avg
 * that is not a power of two), so chunk boundaries are interoperable and verifiable.
 * Pure: imports only src/core.
 *
 * - `params.ts`: `ChunkerParams`, validation (`chunkerParams`) and limits.
 * - `gear.ts`: the GEAR / GEAR_LS tables (from MD5, at module load) and MASKS.
 * - `scan.wat`: the hot loop in WebAssembly (64-bit hash, 8-byte reads, unrolled), the
 *   engine used by default; `scan-wasm-bytes.ts` holds it assembled (by
 *   scripts/build-wasm.mjs, in `npm run build`), `scan-wasm.ts` runs it and lends the
 *   buffers it cuts without copying (`takeScanBuffer`).
 * - `scan.ts`: the same loop in TypeScript (48-bit hash as two int32 halves, word reads,
 *   unrolled), with `CAIRN_CHUNKER=js` or where WebAssembly cannot run.
 * - `fastcdc.ts`: `FastCDC` (prepared params), `cutLength`, `cutPoints`, `chunkSpans`.
 * - `stream.ts`: `StreamChunker` and `chunkStream` (same cut points, bounded memory).
 *
 * Prepare once, chunk many: `new FastCDC(params)` (or the cache behind the free
 * functions) computes the seeded tables and masks a single time.
 */
export {
  type ChunkSpan,
  chunkSpans,
  cutLength,
  cutPoints,
  FastCDC,
  prepareChunker,
} from './fastcdc.js';
export {
  GEAR,
  GEAR_LS,
  MASKS,
  maskBits,
  masksFor,
  seededGear,
  seededGearLs,
  tableBytes,
} from './gear.js';
export {
  CHUNKER_LIMITS,
  type ChunkerParams,
  chunkerParams,
  DEFAULT_LEVEL,
  sameChunkerParams,
} from './params.js';
export { chunkStream, type StreamChunk, StreamChunker } from './stream.js';
