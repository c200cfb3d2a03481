/**
 * zstd compression for blob payloads, through a WebAssembly build shipped inside an npm
 * package (@bokuweb/zstd-wasm): it installs on any machine from the registry alone, with
 * no native build and no download at install time.
 *
 * Decompression is bounded: a frame must declare its content size in its header, the
 * declared size must be within the caller's limit, and the decoder writes into a buffer
 * of exactly that size (it fails rather than grow it). So a decompression bomb costs at
 * most `maxBytes` of memory and is rejected as a FormatError.
 */
import { compressUsingDict, createCCtx, decompress, init } from '@bokuweb/zstd-wasm';
import { FormatError } from '../core/errors.js';

let ready: Promise<void> | undefined;

/** Loads the WebAssembly module once; every other function here needs it loaded. */
export function zstdReady(): Promise<void> {
  ready ??= init();
  return ready;
}

/**
 * This thread's compression context, made once. `compress` makes and frees one per call,
 * which at level 3 took about a third of the time for 64 KiB chunks; the frames are the
 * same bytes either way (no dictionary: `compressUsingDict` with an empty one).
 */
let context: number | undefined;
const NO_DICTIONARY = new Uint8Array(0);

/** Compresses `data` at `level` (1..19). Call `zstdReady` first. */
export function zstdCompress(data: Uint8Array, level: number): Uint8Array {
  context ??= createCCtx();
  return compressUsingDict(context, data, NO_DICTIONARY, level);
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The content size a zstd frame declares in its header, or undefined when the header
 * does not say (or is not a zstd frame header).
 */
export function zstdDeclaredSize(frame: Uint8Array): number | undefined {
  if (frame.length < 6) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint32(0, true) !== ZSTD_MAGIC) return undefined;
  const descriptor = frame[4]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictIdBytes = [0, 1, 2, 4][descriptor & 3]!;
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return undefined;
  const at = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
  if (frame.length < at + fcsBytes) return undefined;
  switch (fcsBytes) {
    case 1:
      return view.getUint8(at);
    case 2:
      return view.getUint16(at, true) + 256;
    case 4:
      return view.getUint32(at, true);
    default:
      return Number(view.getBigUint64(at, true));
  }
}

/**
 * Decompresses one frame read from `source`, refusing frames that do not declare their
 * size or declare more than `maxBytes`. Call `zstdReady` first.
 */
export function zstdDecompress(frame: Uint8Array, maxBytes: number, source: string): Uint8Array {
  const declared = zstdDeclaredSize(frame);
  if (declared === undefined) {
    throw new FormatError(source, 'zstd frame does not declare its content size');
  }
  if (declared > maxBytes) {
    throw new FormatError(
      source,
      `zstd frame declares ${declared} bytes, more than the limit of ${maxBytes}: refused (decompression bomb?)`,
    );
  }
  let out: Uint8Array;
  try {
    out = decompress(frame);
  } catch (err) {
    throw new FormatError(source, `zstd payload does not decompress: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (out.length !== declared) {
    throw new FormatError(
      source,
      `zstd payload is ${out.length} bytes, its frame said ${declared}`,
    );
  }
  return out;
}
