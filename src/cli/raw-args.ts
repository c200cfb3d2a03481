/**
 * The command line as the kernel holds it. Node decodes `process.argv` as UTF-8 and
 * puts U+FFFD in place of bytes that are not, so a path argument such as `dir\xc3`
 * named a file that does not exist (or made a directory of the wrong name). On Linux
 * the exact bytes are in /proc/self/cmdline: such an argument is decoded the way cairn
 * decodes file names (core/fs-names.ts: a byte that is not UTF-8 becomes an escape that
 * file-system calls turn back into that byte). Elsewhere, or when that file cannot be
 * read, `process.argv` is used as it is.
 */
import { readFileSync } from 'node:fs';
import { nameFromBytes } from '../core/fs-names.js';

/** The user's arguments (after node and the script), byte-exact where Node lost bytes. */
export function rawArguments(argv: readonly string[] = process.argv): string[] {
  const given = argv.slice(2);
  if (!given.some((a) => a.includes('\ufffd'))) return given;
  let cmdline: Buffer;
  try {
    cmdline = readFileSync('/proc/self/cmdline');
  } catch {
    return given;
  }
  const parts = splitNul(cmdline);
  // The user's arguments are the last ones (node's own options come before the script).
  const raw = parts.slice(parts.length - given.length);
  // Only where the kernel's copy is the very one Node decoded: `process.title` (or node
  // --title) rewrites /proc/self/cmdline, and then it says nothing about the arguments.
  if (raw.length !== given.length || raw.some((r, i) => r.toString('utf8') !== given[i])) {
    return given;
  }
  return given.map((arg, i) => (arg.includes('\ufffd') ? nameFromBytes(raw[i]!) : arg));
}

/** The NUL-terminated strings of /proc/self/cmdline. */
function splitNul(bytes: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) {
      parts.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < bytes.length) parts.push(bytes.subarray(start));
  return parts;
}
