/** Text output helpers: the shared formatters, plus time stamps and tables. */
import { formatLocalTime } from '../core/format.js';

export { formatBytes, formatDuration, formatMode, formatRate } from '../core/format.js';

/**
 * Characters a terminal acts on rather than shows: C0 controls, DEL, C1 controls, and
 * the byte escapes of names that are not UTF-8 (lone surrogates U+DC80-U+DCFF, see
 * core/fs-names.ts). With the `u` flag a valid surrogate pair is one character and
 * never matches.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\udc80-\udcff]/u;
const UNPRINTABLE_ALL = /[\u0000-\u001f\u007f-\u009f\udc80-\udcff]/gu;
const UNPRINTABLE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\udc80-\udcff]/gu;
const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

function escapeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  // A byte escape stands for the byte code - 0xdc00.
  const byte = code >= 0xdc80 ? code - 0xdc00 : code;
  return SHORT_ESCAPES[ch] ?? `\\x${byte.toString(16).padStart(2, '0')}`;
}

/**
 * A path or name from a repository or a file system, as text output shows it: control
 * characters as `\n`, `\t`, `\r` or `\xHH`, bytes that are not UTF-8 as `\xHH`, and a
 * backslash as `\\`, as `ls -b` does. A name can hold any byte but `/` and NUL, and one
 * read from a repository is untrusted: printed raw, an escape sequence in it would drive
 * the terminal, and a newline would forge a line of output. `--json` keeps names exact.
 */
export function visiblePath(path: string): string {
  if (!UNPRINTABLE.test(path) && !path.includes('\\')) return path;
  return path.replace(/\\/g, '\\\\').replace(UNPRINTABLE_ALL, escapeChar);
}

/**
 * `text` (a line or lines of output) with the control characters that are not line
 * breaks, and byte escapes, shown as `visiblePath` shows them: a safety net under every
 * message, whatever path or error text it quotes. Backslashes are left as they are.
 */
export function visibleText(text: string): string {
  if (!UNPRINTABLE.test(text)) return text;
  return text.replace(UNPRINTABLE_BUT_NEWLINE, escapeChar);
}

/** `n` and its noun: `1 snapshot`, `2 snapshots` (`many` when not singular + s). */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** An ISO time as local "YYYY-MM-DD HH:MM:SS". */
export function formatTime(iso: string): string {
  return formatLocalTime(new Date(iso), true);
}

/** Pads cells into aligned columns. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}
