/** Entry names: validation and the byte order trees are sorted in. */
import { FormatError } from '../core/errors.js';

/** Longest name accepted, in UTF-8 bytes (Linux allows 255; some systems more). */
export const MAX_NAME_BYTES = 1024;

/**
 * Why `name` is not a valid entry name, or undefined if it is. Names come from
 * untrusted repositories, so this is what stops a restore from writing outside its
 * target: no empty names, no `.`/`..`, no separators, no NUL.
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty name';
  if (name === '.' || name === '..') return `name ${JSON.stringify(name)} is not allowed`;
  if (name.includes('/')) return `name ${JSON.stringify(name)} holds '/'`;
  if (name.includes('\0')) return `name ${JSON.stringify(name)} holds NUL`;
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return 'name longer than 1024 bytes';
  return undefined;
}

/** Throws FormatError (naming `source`) unless `name` is valid. */
export function checkName(name: string, source: string): void {
  const problem = nameProblem(name);
  if (problem) throw new FormatError(source, problem);
}

/**
 * Compares names by their UTF-8 bytes. Trees are sorted this way (not by UTF-16 code
 * units, which order astral characters differently) so any implementation agrees.
 */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Sorts names in tree order (a new array). */
export function sortNames(names: Iterable<string>): string[] {
  const keyed = Array.from(names, (name) => ({ name, bytes: Buffer.from(name, 'utf8') }));
  keyed.sort((x, y) => Buffer.compare(x.bytes, y.bytes));
  return keyed.map((k) => k.name);
}
