/**
 * zstd from a WebAssembly build shipped inside an npm package (@bokuweb/zstd-wasm): it
 * installs on any machine from the registry alone, with no native build and no download
 * at install time. The fallback when the native engine is not built (zstd-native.ts).
 */
import type { ZstdEngine } from './zstd-engine.js';

type Package = typeof import('@bokuweb/zstd-wasm');

/**
 * This thread's compression context, made once. The package's `compress` makes and
 * frees one per call, which at level 3 took about a third of the time for 64 KiB chunks;
 * the frames are the same bytes either way (no dictionary: `compressUsingDict` with an
 * empty one).
 */
let context: number | undefined;
const NO_DICTIONARY = new Uint8Array(0);

function wasmEngine(zstd: Package): ZstdEngine {
  return {
    name: 'wasm',
    decodesIntoGiven: false,
    version: '',
    compress(data, level) {
      context ??= zstd.createCCtx();
      return zstd.compressUsingDict(context, data, NO_DICTIONARY, level);
    },
    // The package sizes its output by the size the frame declares and fails rather than
    // grow it; zstd.ts has checked that size against the caller's limit.
    decompress: (frame) => zstd.decompress(frame),
  };
}

let loaded: Promise<ZstdEngine> | undefined;

/**
 * The WebAssembly engine, once its module is compiled (once per thread). The package is
 * imported only here, so threads that use the native engine do not load it (3.5 MiB of
 * RSS each).
 */
export function loadWasmZstd(): Promise<ZstdEngine> {
  loaded ??= import('@bokuweb/zstd-wasm').then(async (zstd) => {
    await zstd.init();
    return wasmEngine(zstd);
  });
  return loaded;
}
