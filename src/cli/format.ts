/** Text output helpers: the shared formatters, plus time stamps and tables. */
import { escapeChar, formatLocalTime, UNPRINTABLE } from '../core/format.js';

export {
  formatBytes,
  formatDuration,
  formatMode,
  formatRate,
  visiblePath,
} from '../core/format.js';

const UNPRINTABLE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\udc80-\udcff]/gu;

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
