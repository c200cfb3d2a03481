/**
 * zstd as native code, through the optional dependency `zstd-napi` (Node-API, so one
 * build serves Node 20, 22 and 24 and loads in worker threads). npm builds it from the
 * zstd sources in the package when the machine has a C compiler; where it could not,
 * the package is missing and zstd.ts uses the WebAssembly engine instead.
 *
 * At level 3 on 64 KiB chunks of text it compressed about 500 MB/s against 140 for the
 * WebAssembly build, and decompressed about 1300 against 340 MB/s (this project's
 * 2-core machine; docs/performance.md).
 */
import { createRequire } from 'node:module';
import type { ZstdEngine } from './zstd-engine.js';

/** The parts of zstd-napi's low-level binding used here (its own types are optional too). */
interface Binding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  compressBound(size: number): number;
  versionString(): string;
}

/** The native engine, or the reason it cannot load (not installed, or built for nothing here). */
export function loadNativeZstd(): ZstdEngine | Error {
  let binding: Binding;
  try {
    binding = createRequire(import.meta.url)('zstd-napi/binding') as Binding;
  } catch (err) {
    return err as Error;
  }
  return nativeEngine(binding);
}

/** The largest scratch buffer a thread keeps between calls (chunks and tree pages fit). */
const KEPT_SCRATCH_BYTES = 8 * 1024 * 1024;

function nativeEngine(binding: Binding): ZstdEngine {
  // One context of each kind per thread, made on first use and kept: zstd reuses their
  // tables from call to call (module state is per thread, as each worker loads its own).
  let cctx: InstanceType<Binding['CCtx']> | undefined;
  let dctx: InstanceType<Binding['DCtx']> | undefined;
  // Frames are written here, then copied out at their real size: a buffer of the worst
  // case held until the blob is written would waste the space compression saved. Kept
  // only up to KEPT_SCRATCH_BYTES, so a rare large object (a snapshot index) does not
  // leave its size behind in every thread.
  let scratch = new Uint8Array(0);
  return {
    name: 'native',
    decodesIntoGiven: true,
    version: binding.versionString(),
    compress(data, level) {
      cctx ??= new binding.CCtx();
      const bound = binding.compressBound(data.length);
      let out = scratch;
      if (out.length < bound) {
        out = new Uint8Array(bound);
        if (bound <= KEPT_SCRATCH_BYTES) scratch = out;
      }
      const written = cctx.compress(out, data, level);
      return out === scratch ? out.slice(0, written) : out.subarray(0, written);
    },
    decompress(frame, size, into) {
      dctx ??= new binding.DCtx();
      const out = into?.length === size ? into : new Uint8Array(size);
      const written = dctx.decompress(out, frame);
      return written === size ? out : out.subarray(0, written);
    },
  };
}
