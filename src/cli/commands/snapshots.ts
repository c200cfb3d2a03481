/** `cairn snapshots`: list snapshots, oldest first. */

import { UsageError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import type { SnapshotRef } from '../../repo/snapshots.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatBytes, formatTime, table, visiblePath } from '../format.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';
import { unreadableSnapshots } from '../unreadable-snapshots.js';

export default async function snapshots(
  ctx: CommandContext,
  opts: FilterOptions & { latest?: number },
): Promise<number> {
  const filter = snapshotFilter(opts);
  if (opts.latest === 0) throw new UsageError('--latest 0 would list nothing: give 1 or more');
  return ctx.withRepo(async (repo) => {
    const unreadable = unreadableSnapshots(ctx.out);
    const listed = await repo.snapshots.list(filter, ctx.signal, unreadable.onUnreadable);
    const refs = opts.latest === undefined ? listed : newestOfEachGroup(listed, opts.latest);
    for (const { id, snapshot: s } of refs) {
      ctx.out.event({ type: 'snapshot', id, ...s });
    }
    ctx.out.event({
      type: 'summary',
      operation: 'snapshots',
      snapshots: refs.length,
      ...(unreadable.count > 0 ? { unreadable: unreadable.count } : {}),
    });
    if (!ctx.out.json) {
      // Which record a replacement (tag, rewrite) replaced, when any listed one is.
      const replacing = refs.some((r) => r.snapshot.original !== undefined);
      const rows = [
        [
          'ID',
          'Time',
          'Host',
          'Tags',
          'Files',
          'Size',
          ...(replacing ? ['Replaces'] : []),
          'Paths',
        ],
      ];
      for (const { id, snapshot: s } of refs) {
        rows.push([
          shortId(id),
          formatTime(s.time),
          visiblePath(s.hostname),
          s.tags.join(','),
          String(s.summary.files),
          formatBytes(s.summary.bytes),
          ...(replacing ? [s.original ? shortId(s.original) : ''] : []),
          s.paths.map(visiblePath).join(' '),
        ]);
      }
      ctx.out.result(table(rows));
      ctx.out.result(`${refs.length} snapshot${refs.length === 1 ? '' : 's'}`);
    }
    if (unreadable.count > 0) {
      ctx.out.error(
        `${unreadable.count} snapshot record(s) cannot be read and are not listed; forget and prune refuse to run until they are removed`,
      );
      return EXIT.partial;
    }
    return EXIT.ok;
  });
}

/**
 * The `n` newest of each group of `refs` (oldest first) with the same host and set of
 * paths (the groups `forget` judges by default), in the order given.
 */
function newestOfEachGroup(refs: SnapshotRef[], n: number): SnapshotRef[] {
  const seen = new Map<string, number>();
  const kept = new Set<SnapshotRef>();
  for (let i = refs.length - 1; i >= 0; i--) {
    const { snapshot: s } = refs[i]!;
    const group = JSON.stringify([s.hostname, [...s.paths].sort()]);
    const count = seen.get(group) ?? 0;
    if (count >= n) continue;
    seen.set(group, count + 1);
    kept.add(refs[i]!);
  }
  return refs.filter((r) => kept.has(r));
}
