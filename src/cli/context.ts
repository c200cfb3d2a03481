/**
 * What every command gets: global options, output, cancellation, and repo opening.
 *
 * The backends and the repository layer are imported when a command first opens a
 * repository, not with this module: `level`, msgpackr and the zstd engines
 * then stay unloaded for `--help`, usage errors and `chunk` (57 -> 51 MiB peak RSS).
 */
import type { Backend } from '../backends/backend.js';
import { ForwardingBackend } from '../backends/forwarding.js';
import type { OpenBackendOptions } from '../backends/open.js';
import { AuthError, UsageError } from '../core/errors.js';
import type { KnownRepositories } from '../repo/known-repos.js';
import type { OpenOptions, Repository } from '../repo/repository.js';
import type { SnapshotFilter, SnapshotRef } from '../repo/snapshots.js';
import { parseBackendOptions } from './backend-options.js';
import type { Output } from './output.js';
import { parseInteger, parseSize } from './parse.js';
import { getPassword, type PasswordRole } from './password.js';

/** Exit codes: 0 success, 1 failure, 2 usage error, 3 finished with warnings. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  partial: 3,
  interrupted: 130,
  /** stdout was closed by its reader: 128 + SIGPIPE, the status of tools SIGPIPE stops. */
  brokenPipe: 141,
} as const;

/** Global options after parsing. */
export interface GlobalOptions {
  repo?: string;
  json?: boolean;
  quiet?: boolean;
  /** Parallel blob transfers (`--transfers`). */
  transfers?: string;
  /** Parallel existence checks (`--checkers`). */
  checkers?: string;
  /** Requests per second per repository (`--tps-limit`). */
  tpsLimit?: string;
  /** Bytes per second per repository (`--bwlimit`, e.g. `10M`). */
  bwlimit?: string;
  /** Read the repository password from this file (`--password-file`). */
  passwordFile?: string;
  /** Run this shell command and use its output as the password (`--password-command`). */
  passwordCommand?: string;
  /** The second repository's password file (`--from-password-file`: sync, init). */
  fromPasswordFile?: string;
  /** The new password's file (`--new-password-file`: key add, key passwd). */
  newPasswordFile?: string;
  /** Backend settings, `KEY=VALUE` each (`-o, --option`; backend-options.ts). */
  option?: string[];
}

/** The load limits chosen on the command line, parsed. */
export interface Tuning {
  transfers: number;
  checkers: number;
  /** Requests per second, when limited. */
  tps?: number;
  /** Bytes per second, when limited. */
  bytesPerSecond?: number;
}

/** Defaults of `--transfers` and `--checkers`. */
export const DEFAULT_TRANSFERS = 8;
export const DEFAULT_CHECKERS = 16;

/** The context a command runs in. */
export class CommandContext {
  private parsedTuning: Tuning | undefined;
  private readonly passwords = new Map<PasswordRole, Promise<string>>();
  /**
   * `-o` settings, validated here, before any command runs (those that open no S3
   * repository included): a UsageError naming the option otherwise.
   */
  readonly backendOptions: OpenBackendOptions;

  constructor(
    readonly globals: GlobalOptions,
    readonly out: Output,
    readonly signal: AbortSignal,
  ) {
    this.backendOptions = parseBackendOptions(globals.option ?? []);
  }

  /** The repository location from --repo or CAIRN_REPO. */
  get repoLocation(): string {
    const loc = this.globals.repo ?? process.env.CAIRN_REPO;
    if (!loc) throw new UsageError('no repository given: use --repo LOCATION or set CAIRN_REPO');
    return loc;
  }

  /** `--transfers`, `--checkers`, `--tps-limit`, `--bwlimit`, validated. */
  get tuning(): Tuning {
    this.parsedTuning ??= parseTuning(this.globals);
    return this.parsedTuning;
  }

  /**
   * Opens the backend at `location` (with the `-o` settings of its kind), wrapped for
   * the command line: a remote backend
   * (S3, HTTP) gets retries with backoff on throttling, 5xx and broken connections
   * (each one reported: retry-report.ts; none once the command is interrupted, when
   * only clean-up runs), and at most transfers + checkers requests in flight; any
   * backend gets the `--tps-limit` and `--bwlimit` caps when given. The caller closes it.
   */
  async openBackend(location: string): Promise<Backend> {
    const [
      { openBackend },
      { isRemoteBackend },
      { LimitBackend },
      { ReportedRetryBackend, RetryReport },
    ] = await Promise.all([
      import('../backends/open.js'),
      import('../repo/repository.js'),
      import('../backends/limit.js'),
      import('./retry-report.js'),
    ]);
    const base = await openBackend(location, this.backendOptions);
    const { transfers, checkers, tps, bytesPerSecond } = this.tuning;
    const remote = isRemoteBackend(base);
    if (!remote && tps === undefined && bytesPerSecond === undefined) return base;
    const limited = new LimitBackend(base, {
      concurrency: transfers + checkers,
      ...(tps !== undefined ? { tps } : {}),
      ...(bytesPerSecond !== undefined ? { bytesPerSecond } : {}),
    });
    if (!remote) return limited;
    return new ReportedRetryBackend(limited, new RetryReport(this.out), {
      stopRetrying: this.signal,
    });
  }

  /**
   * The password for `role` (see password.ts), asked for once per command. Only called
   * when a repository turns out to be encrypted.
   */
  password(role: PasswordRole = 'repo'): Promise<string> {
    let p = this.passwords.get(role);
    if (!p) {
      p = getPassword(role, this.globals);
      this.passwords.set(role, p);
    }
    return p;
  }

  /**
   * Where a password for `role` was given explicitly for this run, if it was: the
   * option or variable of that role itself (not the `repo` sources a `from` password
   * falls back to). Nothing is read or asked.
   */
  givenPasswordSource(role: 'repo' | 'from'): string | undefined {
    const set = (name: string) => (process.env[name] ? name : undefined);
    if (role === 'from') {
      return this.globals.fromPasswordFile ? '--from-password-file' : set('CAIRN_FROM_PASSWORD');
    }
    if (this.globals.passwordFile) return '--password-file';
    if (this.globals.passwordCommand) return '--password-command';
    return set('CAIRN_PASSWORD');
  }

  /**
   * This machine's record of encrypted repositories (repo/known-repos.ts). A mark that
   * cannot be written is a note (text) or a `state-unwritable` notice event (--json).
   */
  async knownRepositories(): Promise<KnownRepositories> {
    const { KnownRepositories, stateRoot } = await import('../repo/known-repos.js');
    const root = stateRoot();
    return new KnownRepositories(root, (location, err) => {
      const message =
        `cannot record in ${root} that ${location} is encrypted (${err.message}): ` +
        'should its config and key slots be replaced, this machine would not notice; ' +
        'make that folder writable or point CAIRN_STATE_DIR at one';
      this.out.note(message);
      this.out.event({ type: 'notice', code: 'state-unwritable', message, repository: location });
    });
  }

  /**
   * Opens the repository at `location` (the caller closes it). An encrypted one is
   * unlocked with the `passwordRole` password (default `repo`); a damaged key slot is a
   * warning (key-slot-notice.ts) unless `options.onNotice` says otherwise. Ctrl-C stops
   * the reads of opening too.
   *
   * One whose config says it is not encrypted is refused when this machine knows it
   * as encrypted, or when a password of that role was given explicitly (unless
   * `passwordCheck` is false: sync's destination, when the source took the `repo`
   * password): see repo/known-repos.ts and docs/security.md.
   */
  async openRepoAt(
    location: string,
    options: OpenOptions & { passwordRole?: 'repo' | 'from'; passwordCheck?: boolean } = {},
  ): Promise<Repository> {
    const { passwordRole = 'repo', passwordCheck = true, ...open } = options;
    const backend = await this.openBackend(location);
    try {
      const [{ openRepositoryIn }, { reportNotice }, known] = await Promise.all([
        import('../repo/repository.js'),
        import('./key-slot-notice.js'),
        this.knownRepositories(),
      ]);
      const given = passwordCheck ? this.givenPasswordSource(passwordRole) : undefined;
      return await openRepositoryIn(backend, {
        password: () => this.password(passwordRole),
        onNotice: (notice) => reportNotice(this.out, notice),
        signal: this.signal,
        known,
        ...(given ? { expectEncrypted: passwordGivenReason(given) } : {}),
        ...open,
      });
    } catch (err) {
      await backend.close();
      // Name the repository: sync and init --copy-params-from open two.
      if (err instanceof AuthError) throw new AuthError(`${location}: ${err.message}`);
      throw err;
    }
  }

  /** Opens the repository (the caller closes it). */
  openRepo(options: OpenOptions = {}): Promise<Repository> {
    return this.openRepoAt(this.repoLocation, options);
  }

  /**
   * The snapshot `selector` names in `repo`. For `latest` and `tag:NAME`, the newest of
   * those `filter` matches (an id is taken whatever the filter says), and a record that
   * cannot be read is passed over with a note (the newest readable one is meant).
   */
  resolveSnapshot(
    repo: Repository,
    selector: string,
    filter: SnapshotFilter = {},
  ): Promise<SnapshotRef> {
    return repo.snapshots.resolve(selector, filter, this.signal, (id, err) => {
      const path = `snapshots/${id}`;
      const message = `${path} cannot be read (${err.message}): ${selector} is the newest snapshot that can`;
      if (this.out.json) {
        this.out.event({ type: 'notice', code: 'snapshot-unreadable', path, message });
      } else this.out.note(message);
    });
  }

  /** Runs `fn` with the open repository and closes it afterwards. */
  async withRepo<T>(fn: (repo: Repository) => Promise<T>, options: OpenOptions = {}): Promise<T> {
    const repo = await this.openRepo(options);
    try {
      return await fn(repo);
    } finally {
      await repo.close();
    }
  }
}

/** Why a repository is expected to be encrypted when a password was given at `source`. */
function passwordGivenReason(source: string): string {
  const without = source.startsWith('--') ? `leave out ${source}` : `${source}= cairn ...`;
  return `a password was given for it (${source}; an unencrypted repository is used without one: ${without})`;
}

/** The innermost backend below any wrappers (to reach backend-specific methods). */
export function baseBackend(backend: Backend): Backend {
  let b = backend;
  while (b instanceof ForwardingBackend) b = b.inner;
  return b;
}

function parseTuning(g: GlobalOptions): Tuning {
  const count = (value: string | undefined, option: string, fallback: number) => {
    if (value === undefined) return fallback;
    const n = parseInteger(value, option);
    if (n < 1) throw new UsageError(`${option} must be at least 1`);
    return n;
  };
  const tuning: Tuning = {
    transfers: count(g.transfers, '--transfers', DEFAULT_TRANSFERS),
    checkers: count(g.checkers, '--checkers', DEFAULT_CHECKERS),
  };
  if (g.tpsLimit !== undefined) {
    const tps = Number(g.tpsLimit);
    if (!(tps > 0) || !Number.isFinite(tps)) {
      throw new UsageError(`--tps-limit: ${JSON.stringify(g.tpsLimit)} is not a positive number`);
    }
    tuning.tps = tps;
  }
  if (g.bwlimit !== undefined) {
    // Accept "10M", "10MiB", "10M/s" alike: a rate is a size per second.
    const rate = parseSize(g.bwlimit.replace(/\/s$/i, ''), '--bwlimit');
    if (rate < 1) throw new UsageError('--bwlimit must be at least 1 byte per second');
    tuning.bytesPerSecond = rate;
  }
  return tuning;
}
