/**
 * Chunker: content-defined chunking with FastCDC 2020, cutting exactly where fastcdc-rs
 * v2020 (crate 4.0.1) cuts, including its odd cases (odd min, odd max, odd tails, an avg
 * that is not a power of two), so chunk boundaries are interoperable and verifiable.
 * Pure: imports only src/core.
 *
 * - `params.ts`: `ChunkerParams`, validation (`chunkerParams`) and limits.
 * - `gear.ts`: the GEAR / GEAR_LS tables (from MD5, at module load) and MASKS.
 * - `scan.ts`: the hot loop (48-bit hash as two int32 halves, word reads, unrolled).
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
