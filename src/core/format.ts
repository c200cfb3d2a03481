/**
 * Numbers, sizes, rates, durations, times and modes for people. Shared by the CLI's
 * text output and the terminal UI so both say the same thing the same way.
 */

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
export function formatMtime(t: { sec: number; nsec: number }): string {
  return formatLocalTime(new Date(t.sec * 1000 + Math.floor(t.nsec / 1e6)));
}

const TYPE_LETTER: Partial<Record<string, string>> = {
  dir: 'd',
  symlink: 'l',
  fifo: 'p',
  socket: 's',
  chardev: 'c',
  blockdev: 'b',
};

/** `ls -l` permissions: `drwxr-xr-x`, with setuid/setgid/sticky as s/S and t/T. */
export function formatMode(kind: string, mode: number): string {
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
 * Characters a terminal acts on rather than shows: C0 controls, DEL, C1 controls, and
 * the byte escapes of names that are not UTF-8 (lone surrogates U+DC80-U+DCFF, see
 * core/fs-names.ts). With the `u` flag a valid surrogate pair is one character and
 * never matches.
 */
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\udc80-\udcff]/u;
const UNPRINTABLE_ALL = /[\u0000-\u001f\u007f-\u009f\udc80-\udcff]/gu;
const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

/** One unprintable character as its escape: `\n`, `\t`, `\r` or `\xHH`. */
export function escapeChar(ch: string): string {
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
