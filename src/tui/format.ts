/**
 * Text for the terminal UI: sizes, counts, times, modes, rates and durations, and
 * fitting ASCII cells into fixed-width columns. Names (which may hold wide characters)
 * are never padded here: they go into flexible boxes that ink measures and truncates.
 */
export {
  formatBytes,
  formatCount,
  formatDuration,
  formatLocalTime,
  formatMode,
  formatMtime,
  formatRate,
  plural,
} from '../core/format.js';

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
