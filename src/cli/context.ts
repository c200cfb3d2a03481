/** What every command gets: global options, output, cancellation, and repo opening. */
import { UsageError } from '../core/errors.js';
import { type OpenOptions, openRepository, type Repository } from '../repo/repository.js';
import type { Output } from './output.js';

/** Exit codes: 0 success, 1 failure, 2 usage error, 3 finished with warnings. */
export const EXIT = { ok: 0, failure: 1, usage: 2, partial: 3, interrupted: 130 } as const;

/** Global options after parsing. */
export interface GlobalOptions {
  repo?: string;
  json?: boolean;
  quiet?: boolean;
}

/** The context a command runs in. */
export class CommandContext {
  constructor(
    readonly globals: GlobalOptions,
    readonly out: Output,
    readonly signal: AbortSignal,
  ) {}

  /** The repository location from --repo or CAIRN_REPO. */
  get repoLocation(): string {
    const loc = this.globals.repo ?? process.env.CAIRN_REPO;
    if (!loc) throw new UsageError('no repository given: use --repo LOCATION or set CAIRN_REPO');
    return loc;
  }

  /** Opens the repository (the caller closes it). */
  openRepo(options: OpenOptions = {}): Promise<Repository> {
    return openRepository(this.repoLocation, options);
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
