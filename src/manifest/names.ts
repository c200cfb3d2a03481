/**
 * Entry names: validation, the byte order trees are sorted in, and the wire form.
 *
 * A name is a byte string. In memory it is a JS string in which bytes that are not valid
 * UTF-8 are surrogate escapes (see core/fs-names.ts). On the wire a name that is valid
 * UTF-8 is a msgpack str (as always); any other is a msgpack bin of its exact bytes.
 */
import { FormatError } from '../core/errors.js';
import {
  isCanonicalName,
  isWellFormedName,
  nameByteLength,
  nameFromBytes,
  nameToBytes,
} from '../core/fs-names.js';

/** Longest name accepted, in bytes (Linux allows 255; some systems more). */
export const MAX_NAME_BYTES = 1024;

/**
 * Why `name` is not a valid entry name, or undefined if it is. Names come from
 * untrusted repositories, so this is what stops a restore from writing outside its
 * target: no empty names, no `.`/`..`, no separators, no NUL. The checks are on the
 * name's bytes (an escaped byte is never `/`, NUL or `.`, which are ASCII).
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty name';
  if (name === '.' || name === '..') return `name ${JSON.stringify(name)} is not allowed`;
  if (name.includes('/')) return `name ${JSON.stringify(name)} holds '/'`;
  if (name.includes('\0')) return `name ${JSON.stringify(name)} holds NUL`;
  if (nameByteLength(name) > MAX_NAME_BYTES) return 'name longer than 1024 bytes';
  if (!isCanonicalName(name)) return `name ${JSON.stringify(name)} is not a canonical byte name`;
  return undefined;
}

/** Throws FormatError (naming `source`) unless `name` is valid. */
export function checkName(name: string, source: string): void {
  const problem = nameProblem(name);
  if (problem) throw new FormatError(source, problem);
}

/**
 * Compares names by their bytes. Trees are sorted this way (not by UTF-16 code units,
 * which order astral characters differently) so any implementation agrees.
 */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  // Fast path: where the names first differ, two characters below the surrogates order
  // as their UTF-8 bytes do (UTF-8 preserves code point order), as does a plain prefix.
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === 0 || !isSurrogate(a.charCodeAt(i - 1))) {
    if (i === n) return a.length - b.length;
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x < 0xd800 && y < 0xd800) return x - y;
  }
  return Buffer.compare(nameToBytes(a), nameToBytes(b));
}

function isSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdfff;
}

/** Sorts names in tree order (a new array). */
export function sortNames(names: Iterable<string>): string[] {
  return Array.from(names).sort(compareNames);
}

/** A name (or other byte text, e.g. a symlink target) as written: str if valid UTF-8, else bin. */
export function textToWire(text: string): string | Uint8Array {
  return isWellFormedName(text) ? text : nameToBytes(text);
}

/**
 * Reads a name (or byte text) written by `textToWire`; undefined if `value` is neither
 * a str nor a bin. A bin must not be valid UTF-8 (that name is written as str), so
 * each name has exactly one encoding and equal entries encode to equal bytes.
 */
export function textFromWire(
  value: unknown,
  source: string,
  field: string,
  maxBytes: number,
): string {
  if (typeof value === 'string') {
    // A str decodes without lone surrogates; one here would alias an escaped name.
    if (!isWellFormedName(value)) throw new FormatError(source, `field ${field}: not UTF-8`);
    if (value.length > maxBytes)
      throw new FormatError(source, `field ${field}: longer than ${maxBytes}`);
    return value;
  }
  if (value instanceof Uint8Array) {
    if (value.length > maxBytes)
      throw new FormatError(source, `field ${field}: longer than ${maxBytes}`);
    const text = nameFromBytes(value);
    if (isWellFormedName(text)) {
      throw new FormatError(
        source,
        `field ${field}: a binary name that is valid UTF-8 must be a string`,
      );
    }
    return text;
  }
  throw new FormatError(source, `field ${field}: not a string or binary`);
}
