/**
 * `--exclude GLOB` and `--exclude-file FILE` as backup, restore and rewrite take them:
 * empty values and bad patterns are usage errors naming the option, before the
 * repository is opened.
 */
import { UsageError } from '../core/errors.js';
import { checkExcludePattern, readExcludeFiles } from '../ops/exclude.js';

/** The options as commander collects them. */
export interface ExcludeCliOptions {
  exclude?: string[];
  excludeFile?: string[];
}

/** Refuses empty values and patterns that cannot be compiled (reads no file). */
export function checkExcludeOptions(opts: ExcludeCliOptions): void {
  if (opts.exclude?.includes('')) throw new UsageError('--exclude "": the pattern is empty');
  for (const p of opts.exclude ?? []) {
    try {
      checkExcludePattern(p);
    } catch (err) {
      throw new UsageError(`--exclude: ${(err as Error).message}`, { cause: err });
    }
  }
  if (opts.excludeFile?.includes('')) throw new UsageError('--exclude-file "": the path is empty');
}

/** The patterns of `--exclude` and then of each `--exclude-file`, checked. */
export async function excludePatterns(opts: ExcludeCliOptions): Promise<string[]> {
  checkExcludeOptions(opts);
  return [...(opts.exclude ?? []), ...(await readExcludeFiles(opts.excludeFile ?? []))];
}
