/**
 * What zstd.ts needs of a zstd implementation. Two exist: native code (zstd-napi, built
 * at install time when a compiler is there) and a WebAssembly build (always there).
 * Both write standard frames that declare their content size, and each reads the
 * other's: objects are named by their plaintext, so which one wrote a frame is not part
 * of the repository format.
 */
export interface ZstdEngine {
  /** `native` or `wasm`. */
  readonly name: ZstdEngineName;
  /** The zstd library version, e.g. `1.5.7` (empty when the build does not say). */
  readonly version: string;
  /** One frame holding `data`, whose header declares its content size. */
  compress(data: Uint8Array, level: number): Uint8Array;
  /**
   * The content of one frame whose header declares `size` bytes. The output buffer is
   * exactly that big and the decoder fails rather than grow it. Throws on any error.
   */
  decompress(frame: Uint8Array, size: number): Uint8Array;
}

export type ZstdEngineName = 'native' | 'wasm';
