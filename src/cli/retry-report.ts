/**
 * What the CLI says when a request to a remote repository is retried: a warning on
 * stderr (also with --quiet, like every warning), and with --json a `retry` event per
 * retry on stdout. A stalled server otherwise makes a command wait through its timeouts
 * and retries for minutes without a word.
 *
 * In text, the first retry is said at once; the ones that follow within `windowMs` of
 * the last line are held and said together at the end of that window (the last one,
 * and how many more), so a stall that fails every request in flight prints a line a
 * second, not one per request. What is still held when the backend closes is said then.
 */
import type { Backend } from '../backends/backend.js';
import { RetryBackend, type RetryInfo, type RetryOptions } from '../backends/retry.js';
import type { Output } from './output.js';

/** Options for RetryReport (tests pass a clock). */
export interface RetryReportOptions {
  /** Milliseconds between text lines at most (default 1000). */
  windowMs?: number;
  now?: () => number;
}

/** The text of one retry: `http GET URL: cause; retry 2 of 5 in 1.3 s`. */
export function retryText(info: RetryInfo): string {
  const message = info.error.message;
  // Backend messages name the verb and the object; say them when one does not.
  const what = message.includes(info.key)
    ? message
    : `${info.verb.toUpperCase()} ${info.key}: ${message}`;
  return `${what}; retry ${info.attempt} of ${info.retries} in ${formatDelay(info.delayMs)}`;
}

/** The `--json` event of one retry. */
export function retryEvent(info: RetryInfo): object {
  return {
    type: 'retry',
    verb: info.verb,
    key: info.key,
    attempt: info.attempt,
    retries: info.retries,
    delayMs: info.delayMs,
    code: info.error.code,
    ...(info.error.status !== undefined ? { status: info.error.status } : {}),
    message: info.error.message,
  };
}

/** Reports retries on an Output (see the file comment). */
export class RetryReport {
  private readonly windowMs: number;
  private readonly now: () => number;
  private lastShown = Number.NEGATIVE_INFINITY;
  private held = 0;
  private heldLast: RetryInfo | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly out: Output,
    options: RetryReportOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Reports one retry (RetryOptions.onRetry). */
  readonly onRetry = (info: RetryInfo): void => {
    if (this.out.json) {
      this.out.event(retryEvent(info));
      return;
    }
    const t = this.now();
    if (this.timer === undefined && t - this.lastShown >= this.windowMs) {
      this.out.warn(retryText(info));
      this.lastShown = t;
      return;
    }
    this.held++;
    this.heldLast = info;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.lastShown + this.windowMs - t);
      // Never what keeps the process alive.
      this.timer.unref?.();
    }
  };

  /** Says the retries held back, if any. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const last = this.heldLast;
    if (!last) return;
    const more = this.held > 1 ? ` (and ${this.held - 1} more retries)` : '';
    this.out.warn(`${retryText(last)}${more}`);
    this.lastShown = this.now();
    this.held = 0;
    this.heldLast = undefined;
  }
}

/** A RetryBackend whose retries `report` tells, flushing what it holds on close. */
export class ReportedRetryBackend extends RetryBackend {
  constructor(
    inner: Backend,
    private readonly report: RetryReport,
    options: Omit<RetryOptions, 'onRetry'> = {},
  ) {
    super(inner, { ...options, onRetry: report.onRetry });
  }

  override async close(): Promise<void> {
    this.report.flush();
    await super.close();
  }
}

/** `350 ms`, `1.3 s`. */
function formatDelay(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
