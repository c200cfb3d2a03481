/**
 * An ObjectCodec as plain data, for worker threads: what `postMessage` and `workerData`
 * can carry (no class instances), and back. Both the chunk pool and the restore pool
 * rebuild the repository's codec this way, so ids, sealing and opening on a worker are
 * exactly the calling thread's.
 */
import { type CompressionMode, ObjectCodec } from './codec.js';

/** The settings of an ObjectCodec, structured-cloneable. */
export interface CodecSetup {
  compression: CompressionMode;
  /** The master keys of an encrypted repository (raw bytes). */
  keys?: { encryptionKey: Uint8Array; idKey: Uint8Array; chunkerSeed: bigint };
}

/** `codec` as plain data (the keys copied, so the caller's stay its own). */
export function codecSetup(codec: ObjectCodec): CodecSetup {
  const keys = codec.keys;
  return {
    compression: codec.compression,
    ...(keys
      ? {
          keys: {
            encryptionKey: new Uint8Array(keys.encryptionKey),
            idKey: new Uint8Array(keys.idKey),
            chunkerSeed: keys.chunkerSeed,
          },
        }
      : {}),
  };
}

/** The codec `setup` describes. */
export function codecFromSetup(setup: CodecSetup): ObjectCodec {
  const keys = setup.keys;
  return new ObjectCodec(
    keys
      ? {
          encryptionKey: Buffer.from(keys.encryptionKey),
          idKey: Buffer.from(keys.idKey),
          chunkerSeed: keys.chunkerSeed,
        }
      : undefined,
    setup.compression,
  );
}
