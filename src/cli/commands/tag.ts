/** `cairn tag [SNAPSHOT...] --add/--remove/--set/--clear`: change the tags of snapshots (ops/tag.ts). */
import { UsageError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import { checkTagChange, type TagChange, tagSnapshots } from '../../ops/tag.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatTime } from '../format.js';
import { checkTagOption } from '../parse.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';

interface TagCliOptions extends FilterOptions {
  add?: string[];
  remove?: string[];
  set?: string[];
  clear?: boolean;
  dryRun?: boolean;
}

export default async function tag(
  ctx: CommandContext,
  snapshots: string[],
  opts: TagCliOptions,
): Promise<number> {
  const change = tagChange(opts);
  const filter = snapshotFilter(opts);
  if (snapshots.includes('')) throw new UsageError('tag: the snapshot "" is empty');
  const dryRun = opts.dryRun ?? false;
  return ctx.withRepo(async (repo) => {
    const report = await tagSnapshots(repo, {
      ...change,
      snapshots,
      filter,
      dryRun,
      signal: ctx.signal,
    });
    for (const c of report.changed) {
      ctx.out.event({ type: 'snapshot', id: c.id, from: c.from, ...c.snapshot });
      ctx.out.line(
        `${dryRun ? 'would replace' : 'replaced'} ${shortId(c.from)} (${formatTime(c.snapshot.time)}) by ${shortId(c.id)}: tags ${c.snapshot.tags.join(',') || '(none)'}`,
      );
    }
    for (const id of report.leftovers) {
      ctx.out.line(
        `${dryRun ? 'would remove' : 'removed'} ${shortId(id)}: a record with these tags replaces it (left by a tag that was stopped)`,
      );
    }
    ctx.out.event({
      type: 'summary',
      operation: 'tag',
      changed: report.changed.length,
      unchanged: report.unchanged,
      leftovers: report.leftovers,
      dryRun,
    });
    if (report.changed.length + report.unchanged === 0) {
      ctx.out.note('no snapshot matches the selection: nothing to change');
    }
    const verb = dryRun ? 'would change' : 'changed';
    ctx.out.result(
      `${verb} the tags of ${report.changed.length} snapshot(s); ${report.unchanged} already as asked`,
    );
    return EXIT.ok;
  });
}

/** The change the options ask for, checked before the repository is opened. */
function tagChange(opts: TagCliOptions): TagChange {
  if (opts.clear && opts.set) throw new UsageError('--clear and --set: give one of them');
  for (const [option, tags] of [
    ['--add', opts.add],
    ['--remove', opts.remove],
    ['--set', opts.set],
  ] as const) {
    if (tags) checkTagOption(tags, option);
  }
  const change: TagChange = {
    ...(opts.add ? { add: opts.add } : {}),
    ...(opts.remove ? { remove: opts.remove } : {}),
    ...(opts.set ? { set: opts.set } : {}),
    ...(opts.clear ? { set: [] } : {}),
  };
  const editing = opts.add !== undefined || opts.remove !== undefined;
  if (change.set && editing) {
    throw new UsageError(
      `${opts.clear ? '--clear' : '--set'} replaces every tag: not with --add or --remove`,
    );
  }
  if (!change.set && !editing) throw new UsageError('tag needs --add, --remove, --set or --clear');
  checkTagChange(change);
  return change;
}
