/**
 * File names as bytes. Linux names are byte strings that need not be valid UTF-8, but
 * cairn handles names as JS strings. A name is decoded with a "surrogate escape" (as
 * Python's `surrogateescape`): valid UTF-8 decodes as usual, and each byte that is not
 * part of a valid UTF-8 sequence becomes the lone surrogate U+DC00 + byte (U+DC80 to
 * U+DCFF). Valid UTF-8 never decodes to a lone surrogate, so this is a bijection between
 * byte strings and the strings it produces: `nameToBytes(nameFromBytes(b))` equals `b`.
 *
 * Strings without a lone surrogate (nearly every name) take fast paths that are plain
 * UTF-8 conversions; only escaped names pay for the byte-wise code.
 */
import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';

// Not fatal on invalid input by default, and strips a BOM unless told not to: both wrong here.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** First and last lone surrogate used as a byte escape. */
const ESCAPE_FIRST = 0xdc80;
const ESCAPE_LAST = 0xdcff;

/**
 * True when `s` holds no lone surrogate, i.e. it is plain Unicode text whose UTF-8 bytes
 * are its bytes. (`String.prototype.isWellFormed`, Node 20+, not yet in the TS lib.)
 */
export function isWellFormedName(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** Decodes name (or path) bytes, escaping bytes that are not valid UTF-8 (see module comment). */
export function nameFromBytes(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return decodeEscaping(bytes);
  }
}

function decodeEscaping(b: Uint8Array): string {
  let out = '';
  let i = 0;
  const n = b.length;
  while (i < n) {
    const lead = b[i]!;
    if (lead < 0x80) {
      out += String.fromCharCode(lead);
      i++;
      continue;
    }
    let len = 0;
    let cp = 0;
    let min = 0;
    if (lead >= 0xc2 && lead <= 0xdf) [len, cp, min] = [2, lead & 0x1f, 0x80];
    else if (lead >= 0xe0 && lead <= 0xef) [len, cp, min] = [3, lead & 0x0f, 0x800];
    else if (lead >= 0xf0 && lead <= 0xf4) [len, cp, min] = [4, lead & 0x07, 0x10000];
    let ok = len > 0 && i + len <= n;
    for (let k = 1; ok && k < len; k++) {
      const c = b[i + k]!;
      if ((c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, encoded surrogates and values past U+10FFFF are not valid UTF-8.
    if (ok && cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff)) {
      out += String.fromCodePoint(cp);
      i += len;
    } else {
      // Escape only the lead byte; what follows is decoded afresh.
      out += String.fromCharCode(0xdc00 + lead);
      i++;
    }
  }
  return out;
}

/**
 * The bytes of a name (or path) decoded by `nameFromBytes`. A lone surrogate that is not
 * a byte escape cannot come from `nameFromBytes`; it is written as U+FFFD (as Node
 * does), and `isCanonicalName` is false for such strings.
 */
export function nameToBytes(name: string): Buffer {
  if (isWellFormedName(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= ESCAPE_FIRST && c <= ESCAPE_LAST) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.of(c - 0xdc00));
    } else {
      run += ch;
    }
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** Length in bytes of `nameToBytes(name)`, without building it in the common case. */
export function nameByteLength(name: string): number {
  return isWellFormedName(name) ? Buffer.byteLength(name, 'utf8') : nameToBytes(name).length;
}

/**
 * True when `name` is exactly what `nameFromBytes` returns for its bytes: no lone
 * surrogate other than byte escapes, and no escapes that together form valid UTF-8
 * (which would decode as a character instead). Each byte string has one canonical name.
 */
export function isCanonicalName(name: string): boolean {
  return isWellFormedName(name) || nameFromBytes(nameToBytes(name)) === name;
}

/**
 * `path` as plain text: each byte escape (a byte that is not UTF-8) written as `\xHH`.
 * For fields that hold text, not names (a snapshot record's `paths`): a lone surrogate
 * has no UTF-8 form, and the record's encoder would turn it into U+FFFD.
 */
export function textOfPath(path: string): string {
  if (isWellFormedName(path)) return path;
  return path.replace(/[\udc80-\udcff]/g, (ch) => `\\x${(ch.charCodeAt(0) - 0xdc00).toString(16)}`);
}

/**
 * A path (or name) as Node's file-system calls take it: the string itself when it holds
 * no byte escapes, else a Buffer of its exact bytes.
 */
export function fsPath(path: string): string | Buffer {
  return isWellFormedName(path) ? path : nameToBytes(path);
}

/**
 * The names in directory `at`, byte-exact. Read as strings (fast); only when some name
 * holds U+FFFD, which is what Node substitutes for invalid bytes, the directory is read
 * again as bytes and decoded with `nameFromBytes`.
 */
export function readdirNamesSync(at: string | Buffer): string[] {
  const names = readdirSync(at);
  if (!names.some((n) => n.includes('\uFFFD'))) return names;
  return readdirSync(at, { encoding: 'buffer' }).map(nameFromBytes);
}

/** Asynchronous `readdirNamesSync`. */
export async function readdirNames(at: string | Buffer): Promise<string[]> {
  const names = await readdir(at);
  if (!names.some((n) => n.includes('\uFFFD'))) return names;
  return (await readdir(at, { encoding: 'buffer' })).map(nameFromBytes);
}
