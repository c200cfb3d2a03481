/**
 * The msgpack settings every manifest uses. Records/structures (a msgpackr extension)
 * are off so the bytes are plain MessagePack any implementation reads; maps are
 * written in the key order the encoders build them in, so equal values give equal bytes.
 */
import { Packr, Unpackr } from 'msgpackr';
import { FormatError } from '../core/errors.js';

const packr = new Packr({ useRecords: false, variableMapSize: true, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Encodes a value built only from maps, arrays, strings, integers and Uint8Arrays. */
export function pack(value: unknown): Uint8Array {
  // Copy out of msgpackr's reusable buffer so callers may keep the result.
  return Uint8Array.prototype.slice.call(packr.pack(value));
}

/** Decodes exactly one value occupying all of `bytes`; any problem is a FormatError. */
export function unpack(bytes: Uint8Array, source: string): unknown {
  try {
    return unpackr.unpack(bytes);
  } catch (err) {
    throw new FormatError(source, `not valid MessagePack: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
