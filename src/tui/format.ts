/**
 * Text for the terminal UI: sizes, counts, times, modes, rates and durations, and
 * fitting ASCII cells into fixed-width columns. Names (which may hold wide characters)
 * are never padded here: they go into flexible boxes that ink measures and truncates.
 */
import type { EntryKind, Timestamp } from '../manifest/types.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** A byte count for people: `512 B`, `1.5 KiB`, `23 MiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[u]}`;
}

/** A count with thousands separators: `100,000`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `n` followed by `word` or its plural: `1 file`, `3 files`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${formatCount(n)} ${n === 1 ? word : many}`;
}

/** Milliseconds as `m:ss` or `h:mm:ss`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (x: number) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** Bytes per second, or `-` before any time has passed. */
export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return '-';
  return `${formatBytes((bytes * 1000) / ms)}/s`;
}

const pad2 = (x: number) => String(x).padStart(2, '0');

/** A date as local `YYYY-MM-DD HH:MM` (with `:SS` when `seconds`). */
export function formatLocalTime(d: Date, seconds = false): string {
  if (Number.isNaN(d.getTime())) return '?';
  const day = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  return `${day} ${time}${seconds ? `:${pad2(d.getSeconds())}` : ''}`;
}

/** An entry's mtime as local `YYYY-MM-DD HH:MM`. */
export function formatMtime(t: Timestamp): string {
  return formatLocalTime(new Date(t.sec * 1000 + Math.floor(t.nsec / 1e6)));
}

const TYPE_LETTER: Partial<Record<EntryKind, string>> = {
  dir: 'd',
  symlink: 'l',
  fifo: 'p',
  socket: 's',
  chardev: 'c',
  blockdev: 'b',
};

/** `ls -l` permissions: `drwxr-xr-x`, with setuid/setgid/sticky as s/S and t/T. */
export function formatMode(kind: EntryKind, mode: number): string {
  const bit = (mask: number, ch: string) => (mode & mask ? ch : '-');
  const special = (exec: number, flag: number, on: string, off: string, plain: string) =>
    mode & flag ? (mode & exec ? on : off) : mode & exec ? plain : '-';
  return (
    (TYPE_LETTER[kind] ?? '-') +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    special(0o100, 0o4000, 's', 'S', 'x') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    special(0o010, 0o2000, 's', 'S', 'x') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    special(0o001, 0o1000, 't', 'T', 'x')
  );
}

/**
 * An ASCII cell of exactly `width` characters: padded, or cut with `…`. Only for text
 * whose characters are one column wide (numbers, dates, modes, ids).
 */
export function cell(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
  return align === 'left' ? text.padEnd(width) : text.padStart(width);
}

// Combining marks and format characters (ZWJ, variation selectors are Mn/Cf).
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}]/u;
const EMOJI = /\p{Extended_Pictographic}/u;

/** Columns a code point takes in a terminal: 0 (combining), 2 (wide, emoji) or 1. */
export function charWidth(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x7f) return cp < 0x20 ? 0 : 1;
  if (ZERO_WIDTH.test(ch)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return cp >= 0x1f000 && EMOJI.test(ch) ? 2 : 1;
}

/** Columns `text` takes in a terminal. */
export function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch);
  return w;
}

/**
 * `text` in exactly `width` columns: cut with `…` when too wide, padded with spaces
 * (`align` right pads on the left). Works for wide characters, unlike `cell`.
 */
export function fitText(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  let w = textWidth(text);
  let out = text;
  if (w > width) {
    out = '';
    w = 0;
    for (const ch of text) {
      const cw = charWidth(ch);
      if (w + cw > width - 1) break;
      out += ch;
      w += cw;
    }
    out += '…';
    w += 1;
  }
  const pad = ' '.repeat(Math.max(0, width - w));
  return align === 'left' ? out + pad : pad + out;
}

/**
 * `text` safe to print: control characters (which could move the cursor or change
 * colours) shown as `?`. Names in a repository may hold any byte but `/` and NUL.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
