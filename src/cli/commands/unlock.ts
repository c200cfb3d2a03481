/**
 * `cairn unlock [--remove-all]`: remove stale locks (or every lock but those of processes
 * still running on this host).
 */
import { describeLock, removeLocks } from '../../repo/locks.js';
import { type CommandContext, EXIT } from '../context.js';

export default async function unlockCommand(
  ctx: CommandContext,
  opts: { removeAll?: boolean },
): Promise<number> {
  return ctx.withRepo(async (repo) => {
    const all = opts.removeAll ?? false;
    const { removed, kept } = await removeLocks(repo.backend, { all, signal: ctx.signal });
    for (const l of removed) {
      ctx.out.event({ type: 'unlocked', id: l.id, ...l.record, stale: l.stale ?? null });
      ctx.out.line(`removed ${describeLock(l)}`);
    }
    // What was kept is what is left: live locks (with --remove-all, those of processes
    // still running on this host).
    for (const l of kept) {
      if (all) ctx.out.note(`kept ${describeLock(l)}: that process is still running on this host`);
      ctx.out.line(`still held: ${describeLock(l)}`);
    }
    ctx.out.event({
      type: 'summary',
      operation: 'unlock',
      removed: removed.length,
      left: kept.length,
    });
    ctx.out.result(`removed ${removed.length} lock(s); ${kept.length} live lock(s) left`);
    return EXIT.ok;
  });
}
