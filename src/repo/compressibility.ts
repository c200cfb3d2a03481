/**
 * A cheap guess whether data is worth compressing, made before paying for zstd.
 *
 * zstd spends time on data it cannot shrink (random bytes, or files that are already
 * compressed: media, archives, encrypted data): the WebAssembly engine as long as on
 * text (110-160 MB/s on this project's machines), the native one less, but still far
 * more than this guess costs (about 15-20 us per 64 KiB). Such data has a byte entropy
 * close to 8 bits, which a sample of a few KiB shows: its bytes are almost uniformly
 * spread, while text, code and most binaries are far from it. The `auto` writer skips
 * zstd for data that looks random; a wrong guess costs at most a few percent of that
 * object's size (zstd would have kept the result only had it saved 3% or more).
 */

/** Bytes sampled, at most: SAMPLE_RUNS evenly spaced runs of RUN_BYTES. */
const SAMPLE_RUNS = 16;
const RUN_BYTES = 256;

/**
 * Below this estimate, in bits per byte, data is compressed. Uniformly random bytes
 * estimate about 7.95 from 4,096 samples (the plug-in estimate runs low by about
 * 255 / (2 * 4096 * ln 2) = 0.045 bits); text is around 4.5-5.5. Byte entropy
 * ignores repeats, which zstd finds: random-looking bytes that repeat within one object
 * would be compressible and still look random here. That is why only file content is
 * guessed at (content-defined chunks: a repeat of a chunk's length or more is
 * deduplicated instead), and never directory pages, where many copies of one small
 * file can sit side by side.
 */
const RANDOM_BITS = 7.8;

/** Data shorter than this is always tried (too few bytes for a meaningful estimate). */
const MIN_SAMPLED = 2 * SAMPLE_RUNS * RUN_BYTES;

/** True when `data` looks random enough that compressing it would not pay. */
export function looksIncompressible(data: Uint8Array): boolean {
  if (data.length < MIN_SAMPLED) return false;
  return sampledEntropy(data) >= RANDOM_BITS;
}

/**
 * The byte entropy, in bits per byte, of SAMPLE_RUNS runs of RUN_BYTES spread evenly
 * over `data` (which must hold at least SAMPLE_RUNS * RUN_BYTES bytes).
 */
export function sampledEntropy(data: Uint8Array): number {
  const counts = new Uint32Array(256);
  const stride = Math.floor((data.length - RUN_BYTES) / (SAMPLE_RUNS - 1));
  for (let run = 0; run < SAMPLE_RUNS; run++) {
    const start = run * stride;
    for (let i = start; i < start + RUN_BYTES; i++) counts[data[i]!]!++;
  }
  const total = SAMPLE_RUNS * RUN_BYTES;
  let bits = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b]!;
    if (c > 0) bits -= c * Math.log2(c / total);
  }
  return bits / total;
}
