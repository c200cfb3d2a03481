/**
 * `syncfs(2)` of the file system holding a folder, for group commits (group-commit.ts).
 * Node has no binding for it, so it is `sync -f FOLDER` (GNU coreutils), run by a
 * helper shell that this thread keeps while it is in use: one process start per burst
 * of commits instead of one per commit. Starting a process from Node forks the whole
 * process, which cost 5-10 ms of CPU per call on the main thread and more on busy
 * worker threads (74 and 123 ms per worker in a 0.8 s backup of 26 MB that committed
 * about 40 times); the shell, a small process, starts each `sync` cheaply.
 *
 * The helper quits after a second without requests (so nothing lingers in a
 * long-running process) and is started again on the next one. It never keeps the
 * event loop alive while idle; a request in flight does.
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** Reads a line per request: `sync -f` the folder, answer 0 (done) or 1 (failed). */
const HELPER_SCRIPT = 'while read -r _; do if sync -f -- "$1"; then echo 0; else echo 1; fi; done';

/** How long an idle helper is kept, in milliseconds. */
const IDLE_MS = 1000;

/** Runs `syncfs` on one folder's file system through a kept helper; see the module comment. */
export class FileSystemSyncer {
  private child: ChildProcess | undefined;
  private waiting: Array<(ok: boolean) => void> = [];
  private pendingOutput = '';
  private idleTimer: NodeJS.Timeout | undefined;
  /** Helper processes started so far (for tests and diagnostics). */
  started = 0;

  constructor(private readonly folder: string) {}

  /**
   * Resolves true once everything written to the folder's file system before the call
   * is durable, false when that cannot be done here (not Linux, no `sync -f`, or the
   * helper failed): callers then fsync what they wrote instead.
   */
  sync(): Promise<boolean> {
    if (process.platform !== 'linux') return Promise.resolve(false);
    const child = this.child ?? this.start();
    if (!child?.stdin || !child.stdout) return Promise.resolve(false);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    (child.stdout as unknown as { ref?: () => void }).ref?.();
    return new Promise<boolean>((resolve) => {
      this.waiting.push(resolve);
      child.stdin!.write('\n');
    });
  }

  private start(): ChildProcess | undefined {
    let child: ChildProcess;
    try {
      child = spawn('sh', ['-c', HELPER_SCRIPT, 'cairn-syncfs', this.folder], {
        stdio: ['pipe', 'pipe', 'ignore'],
      });
    } catch {
      return undefined;
    }
    this.started++;
    this.child = child;
    this.pendingOutput = '';
    // Neither the process nor its pipes keep the event loop alive; `sync` refs stdout
    // while a request is in flight.
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    child.stdin!.on('error', () => this.lost(child));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => this.answer(text));
    child.on('error', () => this.lost(child));
    child.on('close', () => this.lost(child));
    return child;
  }

  private answer(text: string): void {
    this.pendingOutput += text;
    let end = this.pendingOutput.indexOf('\n');
    while (end >= 0) {
      const line = this.pendingOutput.slice(0, end).trim();
      this.pendingOutput = this.pendingOutput.slice(end + 1);
      this.waiting.shift()?.(line === '0');
      end = this.pendingOutput.indexOf('\n');
    }
    if (this.waiting.length === 0) this.idle();
  }

  /** Nothing in flight: let the loop exit, and end the helper if no request comes. */
  private idle(): void {
    const child = this.child;
    if (!child) return;
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.child === child && this.waiting.length === 0) {
        this.child = undefined;
        child.stdin?.end();
      }
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  /** The helper is gone (exited, or failed to start): whoever still waits gets false. */
  private lost(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = undefined;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    for (const resolve of this.waiting.splice(0)) resolve(false);
  }
}

/** One syncer per folder on this thread. */
const syncers = new Map<string, FileSystemSyncer>();

/**
 * Flushes the file system holding `folder` (`syncfs`); resolves false when that is not
 * possible here, so callers fall back to fsyncing what they wrote.
 */
export function syncFileSystem(folder: string): Promise<boolean> {
  let syncer = syncers.get(folder);
  if (!syncer) {
    syncer = new FileSystemSyncer(folder);
    syncers.set(folder, syncer);
  }
  return syncer.sync();
}
