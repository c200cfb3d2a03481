/**
 * `syncfs(2)` of the file system holding a folder, for group commits (group-commit.ts).
 * Node has no binding for it, so a helper process that this thread keeps while it is in
 * use makes the call: one process start per burst of commits instead of one per commit.
 * Starting a process from Node forks the whole process, which cost 5-10 ms of CPU per
 * call on the main thread and more on busy worker threads (74 and 123 ms per worker in a
 * 0.8 s backup of 26 MB that committed about 40 times).
 *
 * The helper is, in order of preference:
 * - `perl`, which makes the system call itself (`syscall`; perl-base is part of every
 *   Debian and Ubuntu system): a request costs a pipe round trip and the call. Only
 *   where perl knows the call's number: x86-64 (306) and arm64 (267), checked against
 *   perl's own architecture, not Node's, so an emulated Node never passes the wrong one;
 * - a shell running `sync -f FOLDER` (GNU coreutils, busybox) per request. Starting
 *   `sync` costs about 1.5 ms of CPU here, and a fresh backup of 2 GiB commits about 450
 *   times with two `syncfs` each: 1.3 s of CPU of its 11-15, on two cores.
 * A perl that exits before answering anything (broken, or an architecture it does not
 * know) is not tried again by this thread: its requests go to the shell.
 *
 * The helper quits after a second without requests (so nothing lingers in a
 * long-running process) and is started again on the next one. It never keeps the
 * event loop alive while idle; a request in flight does. Each request opens the folder
 * anew, as `sync -f` does, so an idle helper holds nothing open there.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Which program the helper runs (see the module comment). */
export type SyncHelper = 'perl' | 'shell';

/**
 * Reads a line per request: `syncfs` of the folder (the last argument) through its own
 * descriptor, answer 0 (done) or 1 (failed); exits at once where it does not know the
 * call's number.
 */
const PERL_SCRIPT = `use Config;
my $arch = $Config{archname};
my $n = $arch =~ /^x86_64-linux/ && $arch !~ /x32/ ? 306 : $arch =~ /^aarch64-linux/ ? 267 : exit 2;
$| = 1;
while (<STDIN>) {
  my $ok = open(my $d, '<', $ARGV[-1]) && syscall($n, fileno($d)) == 0;
  close($d) if $d;
  print $ok ? "0\n" : "1\n";
}`;

/** Reads a line per request: `sync -f` the folder, answer 0 (done) or 1 (failed). */
const SHELL_SCRIPT = 'while read -r _; do if sync -f -- "$1"; then echo 0; else echo 1; fi; done';

/** How long an idle helper is kept, in milliseconds. */
const IDLE_MS = 1000;

/** False once a perl helper of this thread exited without answering. */
let perlUsable = true;

/** True when an executable `name` is on the PATH. */
function onPath(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** The helper to start now: perl where it can be used, else the shell. */
function chooseHelper(): SyncHelper {
  return perlUsable && onPath('perl') ? 'perl' : 'shell';
}

/** Runs `syncfs` on one folder's file system through a kept helper; see the module comment. */
export class FileSystemSyncer {
  private child: ChildProcess | undefined;
  private waiting: Array<(ok: boolean) => void> = [];
  private pendingOutput = '';
  private idleTimer: NodeJS.Timeout | undefined;
  /** The running helper's program, and whether it has answered yet. */
  private running: SyncHelper = 'shell';
  private answered = false;
  /** Helper processes started so far (for tests and diagnostics). */
  started = 0;

  /** `helper` fixes the program (tests); by default perl where usable, else the shell. */
  constructor(
    private readonly folder: string,
    private readonly helper?: SyncHelper,
  ) {}

  /** The program of the helper started last (for tests and diagnostics). */
  get program(): SyncHelper {
    return this.running;
  }

  /**
   * Resolves true once everything written to the folder's file system before the call
   * is durable, false when that cannot be done here (not Linux, neither helper can
   * run, or the call failed): callers then fsync what they wrote instead.
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
    const program = this.helper ?? chooseHelper();
    // `cairn-syncfs` names the helper in `ps`.
    const [command, args] =
      program === 'perl'
        ? ['perl', ['-e', PERL_SCRIPT, 'cairn-syncfs', this.folder]]
        : ['sh', ['-c', SHELL_SCRIPT, 'cairn-syncfs', this.folder]];
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      return undefined;
    }
    this.started++;
    this.child = child;
    this.running = program;
    this.answered = false;
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
      this.answered = true;
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

  /**
   * The helper is gone (exited, or failed to start): whoever still waits gets false,
   * unless it was a perl that never answered, whose requests go to the shell instead.
   */
  private lost(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = undefined;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const waiting = this.waiting.splice(0);
    if (this.running === 'perl' && !this.answered && this.helper === undefined) {
      perlUsable = false;
      for (const resolve of waiting) void this.sync().then(resolve);
      return;
    }
    for (const resolve of waiting) resolve(false);
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
