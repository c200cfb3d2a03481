/**
 * The recent rate of a running count (items and bytes done), for the progress line's
 * rate and ETA: measured over the last RATE_WINDOW_MS, the whole run before then, so
 * bytes skipped at once (unchanged files) do not make the rest look fast for long.
 */

/** The rate is measured over the last this many milliseconds. */
export const RATE_WINDOW_MS = 10_000;

/** One progress event's position. */
export interface Sample {
  /** Milliseconds since the operation started. */
  t: number;
  files: number;
  bytes: number;
}

/** Positions of one count over time. */
export class RateWindow {
  private samples: Sample[] = [];

  /** The latest position, if any. */
  get last(): Sample | undefined {
    return this.samples.at(-1);
  }

  /** Forgets every position. */
  reset(): void {
    this.samples = [];
  }

  /** Forgets every position but `s`: the rate is measured from `s` on. */
  restartAt(s: Sample): void {
    this.samples = [s];
  }

  /** Adds the position `s` (times must not go back); the first counts from 0 at 0. */
  add(s: Sample): void {
    const samples = this.samples;
    // The operation started at 0 with nothing done.
    if (samples.length === 0 && s.t > 0) samples.push({ t: 0, files: 0, bytes: 0 });
    samples.push(s);
    // Keep one sample at or before the window's start, none older.
    while (samples.length > 2 && samples[1]!.t <= s.t - RATE_WINDOW_MS) samples.shift();
  }

  /** Units per millisecond of `key` over the window ending at `elapsedMs`. */
  rate(key: 'files' | 'bytes', elapsedMs: number): number {
    const samples = this.samples;
    if (samples.length === 0) return 0;
    // At `elapsedMs` the position is still the last one reported.
    let i = 0;
    while (i < samples.length - 1 && samples[i + 1]!.t <= elapsedMs - RATE_WINDOW_MS) i++;
    const from = samples[i]!;
    const ms = elapsedMs - from.t;
    return ms > 0 ? (samples.at(-1)![key] - from[key]) / ms : 0;
  }
}
