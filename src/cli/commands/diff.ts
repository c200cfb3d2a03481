/** `cairn diff A B`: changes between two snapshots. */
import { addToSummary, diffTrees, emptyDiffSummary } from '../../ops/diff.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatBytes, visiblePath } from '../format.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';

const MARK = { added: '+', removed: '-', modified: 'M', metadata: 'U' } as const;

export default async function diff(
  ctx: CommandContext,
  a: string,
  b: string,
  opts: { metadata?: boolean } & FilterOptions,
): Promise<number> {
  const filter = snapshotFilter(opts);
  return ctx.withRepo(async (repo) => {
    const left = await ctx.resolveSnapshot(repo, a, filter);
    const right = await ctx.resolveSnapshot(repo, b, filter);
    const summary = emptyDiffSummary();
    for await (const d of diffTrees(
      repo,
      left.snapshot.tree,
      right.snapshot.tree,
      '',
      ctx.signal,
    )) {
      addToSummary(summary, d);
      if (d.change === 'metadata' && !opts.metadata && !ctx.out.json) continue;
      ctx.out.event({ type: 'change', ...d });
      const slash = d.kind === 'dir' ? '/' : '';
      const sizes =
        d.kind === 'file'
          ? d.change === 'modified'
            ? `  (${formatBytes(d.sizeBefore ?? 0)} -> ${formatBytes(d.sizeAfter ?? 0)}, ${formatBytes(d.changedBytes ?? 0)} changed)`
            : `  (${formatBytes(d.sizeAfter ?? d.sizeBefore ?? 0)})`
          : '';
      ctx.out.result(`${MARK[d.change]} ${visiblePath(d.path)}${slash}${sizes}`);
    }
    ctx.out.event({ type: 'summary', operation: 'diff', from: left.id, to: right.id, ...summary });
    ctx.out.result(
      `\n${summary.added} added, ${summary.removed} removed, ${summary.modified} modified, ${summary.metadata} metadata only; +${formatBytes(summary.bytesAdded)} -${formatBytes(summary.bytesRemoved)}`,
    );
    return EXIT.ok;
  });
}
