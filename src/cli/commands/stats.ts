/**
 * `cairn stats`: repository size and deduplication; `cairn stats SNAPSHOT...` (or with
 * `--tag/--host/--path`): what those snapshots reference, and what they alone do
 * (ops/selection-stats.ts).
 */
import type { ObjectId } from '../../core/ids.js';
import { selectionStats } from '../../ops/selection-stats.js';
import { stats } from '../../ops/stats.js';
import type { Repository } from '../../repo/repository.js';
import type { SnapshotRef } from '../../repo/snapshots.js';
import { type CommandContext, EXIT } from '../context.js';
import { count, formatBytes, table } from '../format.js';
import { type FilterOptions, hasFilter, snapshotFilter } from '../snapshot-filter-options.js';

export default async function statsCommand(
  ctx: CommandContext,
  selectors: string[] = [],
  opts: FilterOptions = {},
): Promise<number> {
  const filter = snapshotFilter(opts);
  if (selectors.length > 0 || hasFilter(opts)) {
    return ctx.withRepo((repo) => selectionCommand(ctx, repo, selectors, filter));
  }
  return ctx.withRepo(async (repo) => {
    const started = Date.now();
    const s = await stats(repo, ctx.signal, (objects) => {
      const elapsedMs = Date.now() - started;
      ctx.out.progress({ files: objects, unit: 'objects listed', elapsedMs });
      ctx.out.event({ type: 'progress', operation: 'stats', phase: 'list', objects, elapsedMs });
    });
    ctx.out.event({ type: 'summary', operation: 'stats', repository: repo.location, ...s });
    ctx.out.result(
      table([
        ['snapshots', String(s.snapshots)],
        ['data blobs', `${s.dataBlobs} (${formatBytes(s.dataBytes)})`],
        ['tree blobs', `${s.treeBlobs} (${formatBytes(s.treeBytes)})`],
        ['objects', `${s.objects} (${formatBytes(s.storedBytes)})`],
        ['snapshot contents', formatBytes(s.logicalBytes)],
        ['deduplication', `${s.dedupRatio.toFixed(2)}x`],
      ]),
    );
    if (s.unreadableSnapshots > 0) {
      ctx.out.error(
        `${s.unreadableSnapshots} snapshot record(s) cannot be read and are not counted (cairn snapshots names them)`,
      );
      return EXIT.partial;
    }
    return EXIT.ok;
  });
}

async function selectionCommand(
  ctx: CommandContext,
  repo: Repository,
  selectors: string[],
  filter: ReturnType<typeof snapshotFilter>,
): Promise<number> {
  const unreadable: ObjectId[] = [];
  const all = await repo.snapshots.list({}, ctx.signal, (id) => unreadable.push(id));
  let selected: SnapshotRef[];
  if (selectors.length === 0) selected = await repo.snapshots.list(filter, ctx.signal, () => {});
  else {
    const byId = new Map<ObjectId, SnapshotRef>();
    for (const s of selectors) {
      const ref = await ctx.resolveSnapshot(repo, s, filter);
      byId.set(ref.id, ref);
    }
    selected = [...byId.values()];
  }
  const started = Date.now();
  const s = await selectionStats(repo, selected, {
    all,
    signal: ctx.signal,
    onProgress: (phase, n) => {
      const elapsedMs = Date.now() - started;
      ctx.out.progress({
        files: n,
        unit: phase === 'trees' ? 'trees walked' : 'data blobs listed',
        elapsedMs,
      });
      ctx.out.event({
        type: 'progress',
        operation: 'stats',
        phase,
        ...(phase === 'trees' ? { trees: n } : { blobs: n }),
        elapsedMs,
      });
    },
  });
  ctx.out.event({
    type: 'summary',
    operation: 'stats',
    repository: repo.location,
    selected: selected.map((r) => r.id),
    ...s,
    ...(unreadable.length > 0 ? { unreadableSnapshots: unreadable.length } : {}),
  });
  ctx.out.result(
    table([
      ['snapshots', String(s.snapshots)],
      ['to restore', `${count(s.files, 'file')}, ${formatBytes(s.restoreBytes)}`],
      ['trees', String(s.trees)],
      [
        'data blobs',
        `${s.dataBlobs} (${formatBytes(s.contentBytes)} of content, ${formatBytes(s.storedBytes)} stored)`,
      ],
      [
        'only in these',
        `${s.exclusiveBlobs} (${formatBytes(s.exclusiveContentBytes)} of content, ${formatBytes(s.exclusiveStoredBytes)} stored): what forget and prune of them would free`,
      ],
    ]),
  );
  let exit: number = EXIT.ok;
  if (s.missingBlobs > 0) {
    ctx.out.error(
      `${count(s.missingBlobs, 'referenced data blob')} not in the repository (cairn check says more)`,
    );
    exit = EXIT.partial;
  }
  if (unreadable.length > 0) {
    // Their blobs could not be counted as someone else's: "only in these" may be less.
    ctx.out.error(
      `${count(unreadable.length, 'snapshot record')} cannot be read: what only these snapshots reference may be less than shown`,
    );
    exit = EXIT.partial;
  }
  return exit;
}
