/** `cairn unlock [--remove-all]`: remove stale locks (or every lock). */
import { describeLock, listLocks, removeLocks } from '../../repo/locks.js';
import { type CommandContext, EXIT } from '../context.js';

export default async function unlockCommand(
  ctx: CommandContext,
  opts: { removeAll?: boolean },
): Promise<number> {
  return ctx.withRepo(async (repo) => {
    const removed = await removeLocks(repo.backend, {
      all: opts.removeAll ?? false,
      signal: ctx.signal,
    });
    for (const l of removed) {
      ctx.out.event({ type: 'unlocked', id: l.id, ...l.record, stale: l.stale ?? null });
      ctx.out.line(`removed ${describeLock(l)}`);
    }
    const left = await listLocks(repo.backend, { signal: ctx.signal });
    for (const l of left) ctx.out.line(`still held: ${describeLock(l)}`);
    ctx.out.event({
      type: 'summary',
      operation: 'unlock',
      removed: removed.length,
      left: left.length,
    });
    ctx.out.result(`removed ${removed.length} lock(s); ${left.length} live lock(s) left`);
    return EXIT.ok;
  });
}
