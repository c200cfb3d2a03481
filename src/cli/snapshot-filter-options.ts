/**
 * The filter options of the commands that choose snapshots: `-t/--tag`, `--host` and
 * `--path`. Listing commands (`snapshots`, `find`, `forget`, `tag`, `rewrite`, `sync`)
 * take the snapshots they match; with a selector, they narrow what `latest` and
 * `tag:NAME` choose from (an id names its snapshot whatever they say), as restic's do.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { textOfPath } from '../core/fs-names.js';
import { STDIN_PATH_PREFIX } from '../manifest/snapshot-fields.js';
import type { SnapshotFilter } from '../repo/snapshots.js';
import { checkHostOption, collect, collectList } from './parse.js';

/** The options as commander gives them. */
export interface FilterOptions {
  tag?: string[];
  host?: string;
  path?: string[];
}

/**
 * Adds the three options to `command`; `scope` says what they narrow ("only snapshots",
 * "latest and tag:NAME among snapshots"...).
 */
export function addFilterOptions(command: Command, scope: string): Command {
  return command
    .option(
      '-t, --tag <tag>',
      `${scope} with this tag (repeatable or comma-separated: all of them)`,
      collectList,
    )
    .option('--host <name>', `${scope} from this host`)
    .option('--path <path>', `${scope} of this backed-up path (repeatable: all of them)`, collect);
}

/** True when any filter option was given. */
export function hasFilter(opts: FilterOptions): boolean {
  return opts.tag !== undefined || opts.host !== undefined || opts.path !== undefined;
}

/**
 * The filter the options ask for. A path is taken as `backup` records it: made absolute
 * from the working directory, so `--path .` works where the backup was run (`stdin:NAME`
 * as it is); a trailing `/` does not matter.
 */
export function snapshotFilter(opts: FilterOptions): SnapshotFilter {
  // An empty value would be read as none: every host's snapshots.
  if (opts.host !== undefined) checkHostOption(opts.host, '--host');
  const paths = opts.path?.map((p) => {
    if (p === '') throw new UsageError('--path "": the path is empty');
    return p.startsWith(STDIN_PATH_PREFIX) ? p : textOfPath(resolve(p));
  });
  return {
    ...(opts.tag ? { tags: opts.tag } : {}),
    ...(opts.host !== undefined ? { hostname: opts.host } : {}),
    ...(paths ? { withPaths: paths } : {}),
  };
}
