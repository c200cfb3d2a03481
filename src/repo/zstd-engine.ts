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
  /** True when `decompress` writes into the buffer it is given. */
  readonly decodesIntoGiven: boolean;
  /** One frame holding `data`, whose header declares its content size. */
  compress(data: Uint8Array, level: number): Uint8Array;
  /**
   * The content of one frame whose header declares `size` bytes. The output buffer is
   * exactly that big and the decoder fails rather than grow it. Throws on any error.
   * `into`, when given, is `size` bytes to decode into instead of a new buffer, used
   * when `decodesIntoGiven` (the result says where the content is).
   */
  decompress(frame: Uint8Array, size: number, into?: Uint8Array): Uint8Array;
}

export type ZstdEngineName = 'native' | 'wasm';
