/** Text output helpers: the shared formatters, plus time stamps and tables. */
import { formatLocalTime } from '../core/format.js';

export { formatBytes, formatDuration, formatMode, formatRate } from '../core/format.js';

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
