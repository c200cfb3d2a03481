/**
 * Output for commands: text lines for people on stdout, NDJSON objects with `--json`,
 * warnings and errors on stderr, and a one-line progress display on a terminal.
 *
 * The progress line is redrawn on each progress event and, between events, on a timer
 * (terminal only), so elapsed time, rate and ETA keep moving while an operation is busy
 * with something it reports only when done. Rate and ETA are recent ones (rate-window.ts).
 */
import { formatBytes, formatDuration, formatRate, visibleText } from './format.js';
import { RateWindow } from './rate-window.js';

/** What the progress line shows; only what is given is shown. */
export interface ProgressState {
  /** Items done (files, blobs...), and in all when known. */
  files?: number;
  totalFiles?: number;
  /** What `files` counts (default "files"). */
  unit?: string;
  /** Bytes done, and in all when known: shown with the rate. */
  bytes?: number;
  totalBytes?: number;
  /** Milliseconds since the operation started. */
  elapsedMs: number;
  /** Shown after the ETA. */
  extra?: string;
}

/** Options of the progress display (tests pass a clock and an interval). */
export interface OutputOptions {
  /** Milliseconds, for the time between events (default Date.now). */
  now?: () => number;
  /** How often the line is redrawn between events (default 250 ms). */
  refreshMs?: number;
}

/** How a command prints. */
export class Output {
  private progressShown = false;
  /** The last progress drawn, and when it was received. */
  private last: { state: ProgressState; at: number } | undefined;
  private readonly rates = new RateWindow();
  private timer: ReturnType<typeof setInterval> | undefined;
  private drawn = '';
  private readonly now: () => number;
  private readonly refreshMs: number;

  constructor(
    readonly json: boolean,
    readonly quiet: boolean,
    private readonly stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
    private readonly stderr: NodeJS.WritableStream & {
      isTTY?: boolean;
      columns?: number;
    } = process.stderr,
    options: OutputOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.refreshMs = options.refreshMs ?? 250;
  }

  /** True when stdout is a terminal (where binary data does not belong). */
  get stdoutIsTerminal(): boolean {
    return this.stdout.isTTY === true;
  }

  /** Raw bytes or text to stdout (cat), waiting until written. */
  write(data: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.stdout.write(data, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Text for people (suppressed with --json and --quiet). */
  line(text = ''): void {
    if (this.json || this.quiet) return;
    this.eraseProgress();
    this.stdout.write(`${visibleText(text)}\n`);
  }

  /** Text that is the command's result (suppressed only with --json). */
  result(text: string): void {
    if (this.json) return;
    this.eraseProgress();
    this.stdout.write(`${visibleText(text)}\n`);
  }

  /** One NDJSON object (only with --json). */
  event(obj: object): void {
    if (!this.json) return;
    this.stdout.write(`${JSON.stringify(obj)}\n`);
  }

  /** A warning: stderr in text mode (even with --quiet); an event with --json. */
  warn(text: string, obj?: object): void {
    if (this.json) {
      if (obj) this.event(obj);
      return;
    }
    this.eraseProgress();
    this.stderr.write(`warning: ${visibleText(text)}\n`);
  }

  /** A note on stderr in text mode, even with --quiet (not a warning: exit code unchanged). */
  note(text: string): void {
    if (this.json) return;
    this.eraseProgress();
    this.stderr.write(`note: ${visibleText(text)}\n`);
  }

  /** An error message on stderr (always). */
  error(text: string): void {
    this.clearProgress();
    this.stderr.write(`cairn: ${visibleText(text)}\n`);
  }

  /** Whether a live progress line makes sense. */
  get showProgress(): boolean {
    return !this.json && !this.quiet && this.stderr.isTTY === true;
  }

  /**
   * Shows progress: draws the line now, and keeps redrawing it (elapsed time, rate,
   * ETA) every `refreshMs` until `clearProgress`. Text printed meanwhile erases the
   * line; the next redraw brings it back below.
   */
  progress(p: ProgressState): void {
    if (!this.showProgress) return;
    const at = this.now();
    const sample = { t: p.elapsedMs, files: p.files ?? 0, bytes: p.bytes ?? 0 };
    const before = this.rates.last;
    // Counting something else now (check's phases): the rate starts again from here.
    if (
      before &&
      (p.unit !== this.last?.state.unit ||
        sample.files < before.files ||
        sample.bytes < before.bytes)
    ) {
      this.rates.restartAt(sample);
    } else {
      this.rates.add(sample);
    }
    this.last = { state: p, at };
    this.draw(p.elapsedMs);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.refresh(), this.refreshMs);
      // The display never keeps the process alive.
      this.timer.unref?.();
    }
  }

  /** Ends the progress display: erases the line and stops redrawing it. */
  clearProgress(): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.last = undefined;
    this.rates.reset();
    this.eraseProgress();
  }

  /** Redraws the last progress with the time since it came. */
  private refresh(): void {
    if (!this.last) return;
    this.draw(this.last.state.elapsedMs + Math.max(0, this.now() - this.last.at));
  }

  /** The progress line for `p` at `elapsedMs`. */
  private progressText(p: ProgressState, elapsedMs: number): string {
    const parts: string[] = [];
    const byBytes = p.bytes !== undefined && p.totalBytes !== undefined && p.totalBytes > 0;
    const byFiles = p.files !== undefined && p.totalFiles !== undefined && p.totalFiles > 0;
    const [done, total, key] = byBytes
      ? [p.bytes!, p.totalBytes!, 'bytes' as const]
      : byFiles
        ? [p.files!, p.totalFiles!, 'files' as const]
        : [0, 0, undefined];
    if (key)
      parts.push(
        `${Math.min(100, (done * 100) / total)
          .toFixed(1)
          .padStart(5)}%`,
      );
    if (p.files !== undefined) {
      parts.push(
        `${p.files}${p.totalFiles !== undefined ? `/${p.totalFiles}` : ''} ${p.unit ?? 'files'}`,
      );
    }
    if (p.bytes !== undefined) {
      parts.push(
        `${formatBytes(p.bytes)}${p.totalBytes !== undefined ? `/${formatBytes(p.totalBytes)}` : ''}`,
      );
      parts.push(elapsedMs > 0 ? formatRate(this.rates.rate('bytes', elapsedMs), 1) : '-');
    }
    if (key && done < total) {
      const rate = this.rates.rate(key, elapsedMs);
      if (rate > 0) parts.push(`ETA ${formatDuration((total - done) / rate)}`);
    }
    if (p.extra) parts.push(p.extra);
    parts.push(formatDuration(elapsedMs));
    const width = this.stderr.columns ?? 80;
    return parts.join('  ').slice(0, width - 1);
  }

  private draw(elapsedMs: number): void {
    if (!this.last) return;
    const text = this.progressText(this.last.state, elapsedMs);
    if (this.progressShown && text === this.drawn) return;
    this.stderr.write(`\r\x1b[K${text}`);
    this.drawn = text;
    this.progressShown = true;
  }

  /** Erases the progress line (until it is drawn again). */
  private eraseProgress(): void {
    if (!this.progressShown) return;
    this.stderr.write('\r\x1b[K');
    this.progressShown = false;
  }
}
