/**
 * zstd compression for blob payloads. The work is done by one of two engines
 * (zstd-engine.ts): native code when the optional `zstd-napi` package was built at
 * install time, else a WebAssembly build that installs everywhere. `CAIRN_ZSTD=wasm` or
 * `=native` picks one (for comparisons and tests; `native` fails when it is not built).
 *
 * Decompression is bounded: a frame must declare its content size in its header, the
 * declared size must be within the caller's limit, and the decoder writes into a buffer
 * of exactly that size (it fails rather than grow it). So a decompression bomb costs at
 * most `maxBytes` of memory and is rejected as a FormatError.
 */
import { FormatError, UsageError } from '../core/errors.js';
import type { ZstdEngine, ZstdEngineName } from './zstd-engine.js';
import { loadNativeZstd } from './zstd-native.js';
import { loadWasmZstd } from './zstd-wasm.js';

export type { ZstdEngineName } from './zstd-engine.js';

let ready: Promise<ZstdEngine> | undefined;
let engine: ZstdEngine | undefined;

/** Loads this thread's engine once; every other function here needs it loaded. */
export async function zstdReady(): Promise<void> {
  ready ??= pickZstdEngine(process.env.CAIRN_ZSTD);
  engine = await ready;
}

/** The engine in use, e.g. `{ name: 'native', version: '1.5.7' }`. Loads it if needed. */
export async function zstdEngine(): Promise<{ name: ZstdEngineName; version: string }> {
  await zstdReady();
  const { name, version } = loaded();
  return { name, version };
}

/** The engine `CAIRN_ZSTD=wanted` asks for: `native`, `wasm`, or unset for native when built. */
export async function pickZstdEngine(wanted: string | undefined): Promise<ZstdEngine> {
  const choice = wanted === undefined || wanted === '' ? 'auto' : wanted;
  if (choice === 'wasm') return loadWasmZstd();
  if (choice !== 'auto' && choice !== 'native') {
    throw new UsageError(`CAIRN_ZSTD must be native, wasm or unset, not ${JSON.stringify(wanted)}`);
  }
  const native = loadNativeZstd();
  if (!(native instanceof Error)) return native;
  if (choice === 'native') {
    throw new UsageError(
      `CAIRN_ZSTD=native, but the native zstd engine (package zstd-napi) does not load: ${native.message}`,
    );
  }
  return loadWasmZstd();
}

function loaded(): ZstdEngine {
  if (!engine) throw new Error('zstd used before zstdReady() resolved');
  return engine;
}

/** Compresses `data` at `level` (1..19) into one frame. Call `zstdReady` first. */
export function zstdCompress(data: Uint8Array, level: number): Uint8Array {
  return loaded().compress(data, level);
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
 * Where a caller would like `size` bytes of decompressed content to go (a view of a
 * buffer it reuses), or undefined for a new buffer.
 */
export type OutputPlace = (size: number) => Uint8Array | undefined;

/**
 * Decompresses one frame read from `source`, refusing frames that do not declare their
 * size or declare more than `maxBytes`. The content goes where `place` says when the
 * engine can decode into a given buffer (see ZstdEngine). Call `zstdReady` first.
 */
export function zstdDecompress(
  frame: Uint8Array,
  maxBytes: number,
  source: string,
  place?: OutputPlace,
): Uint8Array {
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
    const engine = loaded();
    out = engine.decompress(
      frame,
      declared,
      engine.decodesIntoGiven ? place?.(declared) : undefined,
    );
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
