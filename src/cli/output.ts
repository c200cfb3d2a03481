/**
 * Output for commands: text lines for people on stdout, NDJSON objects with `--json`,
 * warnings and errors on stderr, and a one-line progress display on a terminal.
 */
import { formatBytes, formatDuration, formatRate } from './format.js';

/** How a command prints. */
export class Output {
  private progressShown = false;

  constructor(
    readonly json: boolean,
    readonly quiet: boolean,
    private readonly stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
    private readonly stderr: NodeJS.WritableStream & {
      isTTY?: boolean;
      columns?: number;
    } = process.stderr,
  ) {}

  /** Raw bytes or text to stdout (cat), waiting until written. */
  write(data: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.stdout.write(data, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Text for people (suppressed with --json and --quiet). */
  line(text = ''): void {
    if (this.json || this.quiet) return;
    this.clearProgress();
    this.stdout.write(`${text}\n`);
  }

  /** Text that is the command's result (suppressed only with --json). */
  result(text: string): void {
    if (this.json) return;
    this.clearProgress();
    this.stdout.write(`${text}\n`);
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
    this.clearProgress();
    this.stderr.write(`warning: ${text}\n`);
  }

  /** An error message on stderr (always). */
  error(text: string): void {
    this.clearProgress();
    this.stderr.write(`cairn: ${text}\n`);
  }

  /** Whether a live progress line makes sense. */
  get showProgress(): boolean {
    return !this.json && !this.quiet && this.stderr.isTTY === true;
  }

  /** Redraws the progress line. */
  progress(p: {
    files: number;
    bytes: number;
    totalFiles?: number;
    totalBytes?: number;
    elapsedMs: number;
    extra?: string;
    /** What `files` counts (default "files"; sync counts blobs). */
    unit?: string;
  }): void {
    if (!this.showProgress) return;
    const parts: string[] = [];
    const pct = p.totalBytes ? Math.min(100, (p.bytes * 100) / p.totalBytes) : undefined;
    if (pct !== undefined) parts.push(`${pct.toFixed(1).padStart(5)}%`);
    parts.push(
      `${p.files}${p.totalFiles !== undefined ? `/${p.totalFiles}` : ''} ${p.unit ?? 'files'}`,
    );
    parts.push(
      `${formatBytes(p.bytes)}${p.totalBytes !== undefined ? `/${formatBytes(p.totalBytes)}` : ''}`,
    );
    parts.push(formatRate(p.bytes, p.elapsedMs));
    if (p.totalBytes && p.bytes > 0 && p.bytes < p.totalBytes) {
      const eta = ((p.totalBytes - p.bytes) * p.elapsedMs) / p.bytes;
      parts.push(`ETA ${formatDuration(eta)}`);
    }
    if (p.extra) parts.push(p.extra);
    parts.push(formatDuration(p.elapsedMs));
    const width = this.stderr.columns ?? 80;
    this.stderr.write(`\r\x1b[K${parts.join('  ').slice(0, width - 1)}`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (!this.progressShown) return;
    this.stderr.write('\r\x1b[K');
    this.progressShown = false;
  }
}
