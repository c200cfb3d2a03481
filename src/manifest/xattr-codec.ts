/**
 * An entry's extended attributes on the wire (entry key `x`): an array of
 * `[name, value]` pairs in strictly increasing order of the names' bytes. A name is str
 * when its bytes are valid UTF-8, else bin (as entry names: names.ts); a value is bin.
 * Decoding checks what Linux itself allows, so a hostile tree cannot make restore
 * attempt anything a file system would not have held: names of 1..255 bytes without NUL
 * and with a namespace dot, values of at most 64 KiB, at most 64 KiB of names in all.
 */

import { FormatError } from '../core/errors.js';
import { nameByteLength } from '../core/fs-names.js';
import type { Xattr } from '../core/xattrs.js';
import { compareNames, textFromWire, textToWire } from './names.js';

/** Longest attribute name (Linux's XATTR_NAME_MAX). */
export const MAX_XATTR_NAME_BYTES = 255;
/** Largest attribute value (Linux's XATTR_SIZE_MAX). */
export const MAX_XATTR_VALUE_BYTES = 65_536;
/** Most bytes of names, each with its NUL, one file may have (Linux's XATTR_LIST_MAX). */
export const MAX_XATTR_LIST_BYTES = 65_536;
/**
 * Most bytes of values backup records for one entry (XFS and others allow far more):
 * an entry stays a small part of its tree node, whatever the file system.
 */
export const MAX_XATTR_RECORDED_VALUE_BYTES = 4 * 1024 * 1024;

/**
 * Why attribute `name` with a value of `valueBytes` bytes cannot be in a tree, or
 * undefined if it can. Linux never gives such an attribute; macOS and FUSE file systems
 * can (names without a namespace, resource forks over 64 KiB), and backup leaves those
 * out rather than write a tree no reader takes.
 */
export function xattrProblem(name: string, valueBytes: number): string | undefined {
  const bytes = nameByteLength(name);
  if (bytes === 0 || bytes > MAX_XATTR_NAME_BYTES) return `name of ${bytes} bytes`;
  if (name.includes('\0')) return 'name holds NUL';
  if (!name.includes('.')) return `name ${JSON.stringify(name)} has no namespace`;
  if (valueBytes > MAX_XATTR_VALUE_BYTES) return `value of ${valueBytes} bytes, over 64 KiB`;
  return undefined;
}

/**
 * The attributes of `list` (in name order) a tree can hold, and a problem in words for
 * each left out (see xattrProblem; also names past 64 KiB and values past 4 MiB in all).
 */
export function fitXattrs(list: readonly Xattr[]): { kept: Xattr[]; left: string[] } {
  const kept: Xattr[] = [];
  const left: string[] = [];
  let listBytes = 0;
  let valueBytes = 0;
  for (const a of list) {
    const problem = xattrProblem(a.name, a.value.length);
    const bytes = nameByteLength(a.name) + 1;
    if (problem) left.push(`${a.name}: ${problem}`);
    else if (listBytes + bytes > MAX_XATTR_LIST_BYTES) left.push(`${a.name}: names over 64 KiB`);
    else if (valueBytes + a.value.length > MAX_XATTR_RECORDED_VALUE_BYTES) {
      left.push(`${a.name}: values over 4 MiB in all`);
    } else {
      kept.push(a);
      listBytes += bytes;
      valueBytes += a.value.length;
    }
  }
  return { kept, left };
}

/** The wire form of a non-empty attribute list (already in order). */
export function xattrsToWire(list: readonly Xattr[]): [string | Uint8Array, Uint8Array][] {
  return list.map((a) => [textToWire(a.name), a.value]);
}

/** Reads and validates key `x` of the entry `where`. */
export function xattrsFromWire(value: unknown, where: string): Xattr[] {
  const fail = (problem: string): never => {
    throw new FormatError(where, `field x: ${problem}`);
  };
  if (!Array.isArray(value)) return fail('not an array');
  if (value.length === 0) fail('empty (an entry without attributes leaves x out)');
  if (value.length > MAX_XATTR_LIST_BYTES / 2) fail('too many attributes');
  const out: Xattr[] = [];
  let listBytes = 0;
  for (let i = 0; i < value.length; i++) {
    const pair = value[i];
    if (!Array.isArray(pair) || pair.length !== 2) fail(`item ${i} is not a [name, value] pair`);
    const name = textFromWire(pair[0], where, `x[${i}] name`, MAX_XATTR_NAME_BYTES);
    const v = pair[1];
    if (!(v instanceof Uint8Array)) return fail(`item ${i}: value is not binary`);
    const problem = xattrProblem(name, v.length);
    if (problem) fail(`item ${i}: ${problem}`);
    listBytes += nameByteLength(name) + 1;
    if (listBytes > MAX_XATTR_LIST_BYTES) fail('names longer than 64 KiB in all');
    const previous = out.at(-1);
    if (previous && compareNames(previous.name, name) >= 0) {
      fail(`item ${i}: ${JSON.stringify(name)} is not after ${JSON.stringify(previous.name)}`);
    }
    // A copy (of a Buffer too, whose `slice` is a view): a view would keep the whole page
    // it was decoded from alive, and be copied whole into any message to a worker thread.
    out.push({ name, value: Uint8Array.prototype.slice.call(v) });
  }
  return out;
}

/** True when two attribute lists (absent meaning none) are equal. */
export function sameXattrs(
  a: readonly Xattr[] | undefined,
  b: readonly Xattr[] | undefined,
): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    if (x[i]!.name !== y[i]!.name || Buffer.compare(x[i]!.value, y[i]!.value) !== 0) return false;
  }
  return true;
}
