/**
 * `cairn find PATTERN...`: the entries of snapshots matching glob patterns, snapshot by
 * snapshot, oldest first (ops/find.ts).
 */
import { UsageError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import { FindPatterns, findInTree } from '../../ops/find.js';
import type { SnapshotRef } from '../../repo/snapshots.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatTime, visiblePath } from '../format.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';
import { unreadableSnapshots } from '../unreadable-snapshots.js';
import { describe, entryLine } from './ls.js';

interface FindOptions extends FilterOptions {
  snapshot?: string[];
  long?: boolean;
  ignoreCase?: boolean;
}

export default async function find(
  ctx: CommandContext,
  patterns: string[],
  opts: FindOptions,
): Promise<number> {
  if (patterns.includes('')) throw new UsageError('find: an empty pattern matches nothing');
  const filter = snapshotFilter(opts);
  if (opts.snapshot?.includes('')) throw new UsageError('--snapshot "": the snapshot is empty');
  // Before the repository is opened, as for any other bad option.
  const compiled = new FindPatterns(patterns, { ignoreCase: opts.ignoreCase ?? false });
  return ctx.withRepo(async (repo) => {
    // A snapshot record that cannot be read is not searched: said, and exit 3, since
    // "no match" could then be wrong.
    const unreadable = unreadableSnapshots(ctx.out);
    const refs = opts.snapshot
      ? await Promise.all(opts.snapshot.map((s) => ctx.resolveSnapshot(repo, s, filter)))
      : await repo.snapshots.list(filter, ctx.signal, unreadable.onUnreadable);
    const seen = new Set<string>();
    let matches = 0;
    let searched = 0;
    for (const ref of refs) {
      if (seen.has(ref.id)) continue;
      seen.add(ref.id);
      searched++;
      let first = true;
      for await (const m of findInTree(repo, ref.snapshot.tree, compiled, ctx.signal)) {
        matches++;
        if (ctx.out.json) {
          ctx.out.event({ type: 'match', snapshot: ref.id, path: m.path, ...describe(m.entry) });
          continue;
        }
        if (first) {
          first = false;
          ctx.out.result(heading(ref));
        }
        ctx.out.result(`  ${entryLine(m.path, m.entry, opts.long ?? false)}`);
      }
    }
    ctx.out.event({
      type: 'summary',
      operation: 'find',
      snapshots: searched,
      matches,
      ...(unreadable.count > 0 ? { unreadable: unreadable.count } : {}),
    });
    if (!ctx.out.json && matches === 0) {
      ctx.out.line(`no match in ${searched} snapshot${searched === 1 ? '' : 's'}`);
    }
    return unreadable.count > 0 ? EXIT.partial : EXIT.ok;
  });
}

function heading(ref: SnapshotRef): string {
  const s = ref.snapshot;
  return `snapshot ${shortId(ref.id)} of ${formatTime(s.time)} (${visiblePath(s.hostname)}: ${s.paths.map(visiblePath).join(' ')})`;
}
