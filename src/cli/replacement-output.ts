/**
 * How `rewrite` and `repair snapshots` report a record they replaced: a `snapshot` event
 * (the new record, `from` the old one, and what was taken out), and a line.
 */

import type { ObjectId } from '../core/ids.js';
import { shortId } from '../core/ids.js';
import type { Snapshot } from '../manifest/types.js';
import type { CommandContext } from './context.js';
import { formatTime } from './format.js';

/** A replacement as the operations report it. */
export interface ReplacementReport {
  from: ObjectId;
  /** The new record (undefined in a dry run). */
  id?: ObjectId;
  snapshot: Snapshot;
  /** Found written before: nothing was written. */
  existing?: boolean;
}

/**
 * Prints `e`: `fields` join the event (`removed`, `lost`); `verbs` name the operation
 * (`rewrite`: would rewrite / rewrote / rewritten); `detail` says what was taken out.
 */
export function printReplacement(
  ctx: CommandContext,
  e: ReplacementReport,
  fields: Record<string, unknown>,
  verbs: { would: string; did: string; done: string },
  dryRun: boolean,
  detail: string,
): void {
  ctx.out.event({
    type: 'snapshot',
    ...e.snapshot,
    id: e.id ?? null,
    from: e.from,
    ...fields,
    ...(e.existing ? { existing: true } : {}),
  });
  const when = formatTime(e.snapshot.time);
  if (e.existing) {
    ctx.out.line(
      `${shortId(e.from)} (${when}) was ${verbs.done} before, as ${shortId(e.id!)}: nothing written`,
    );
    return;
  }
  const as = e.id ? ` as ${shortId(e.id)}` : '';
  ctx.out.line(`${dryRun ? verbs.would : verbs.did} ${shortId(e.from)} (${when})${as}: ${detail}`);
}
