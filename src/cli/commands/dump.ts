/**
 * `cairn dump SNAPSHOT PATH`: a file of a snapshot written to standard output as its
 * bytes (`cairn dump latest db.sql | psql`), or a directory, any other entry or the
 * whole snapshot (`/`) as a tar archive (`cairn dump latest src | tar -x`). See
 * ops/dump.ts.
 */
import { orAborted, throwIfAborted } from '../../core/abort.js';
import { NotFoundError, UsageError } from '../../core/errors.js';
import { fileBytes, tarOf } from '../../ops/dump.js';
import { findEntry, splitSnapshotPath } from '../../ops/snapshot-path.js';
import { type CommandContext, EXIT } from '../context.js';
import { visiblePath } from '../format.js';
import type { Output } from '../output.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';

/** Pieces are gathered up to this many bytes per write (a tar of small files is many). */
const WRITE_BYTES = 256 * 1024;

export default async function dump(
  ctx: CommandContext,
  selector: string,
  path: string,
  opts: { tar?: boolean } & FilterOptions,
): Promise<number> {
  const filter = snapshotFilter(opts);
  if (ctx.out.json) {
    throw new UsageError('dump writes the data itself to standard output: --json does not apply');
  }
  if (ctx.out.stdoutIsTerminal) {
    throw new UsageError(
      'dump writes binary data: redirect standard output to a file, or pipe it to a program',
    );
  }
  const parts = splitSnapshotPath(path);
  return ctx.withRepo(async (repo) => {
    const { id, snapshot } = await ctx.resolveSnapshot(repo, selector, filter);
    let skipped = 0;
    const options = {
      signal: ctx.signal,
      onSkip: (s: { path: string; reason: string }) => {
        skipped++;
        ctx.out.warn(`${visiblePath(s.path)}: left out: ${s.reason}`);
      },
    };
    let pieces: AsyncIterable<Uint8Array>;
    if (parts.length === 0) pieces = tarOf(repo, { tree: snapshot.tree }, options);
    else {
      const entry = await findEntry(repo, snapshot.tree, parts, ctx.signal);
      if (!entry) {
        throw new NotFoundError(path, `${visiblePath(path)} is not in snapshot ${id.slice(0, 8)}`);
      }
      const inSnapshot = parts.join('/');
      pieces =
        entry.kind === 'file' && !opts.tar
          ? fileBytes(repo, entry, inSnapshot, ctx.signal)
          : tarOf(repo, { entry, path: inSnapshot }, options);
    }
    await writeGathered(ctx.out, pieces, ctx.signal);
    return skipped > 0 ? EXIT.partial : EXIT.ok;
  });
}

/** Writes `pieces` in order, a few hundred KiB at a time, each write waited for. */
async function writeGathered(
  out: Output,
  pieces: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): Promise<void> {
  let held: Uint8Array[] = [];
  let bytes = 0;
  for await (const piece of pieces) {
    held.push(piece);
    bytes += piece.length;
    if (bytes >= WRITE_BYTES) {
      await writeUnlessStopped(out, held.length === 1 ? held[0]! : Buffer.concat(held), signal);
      held = [];
      bytes = 0;
    }
  }
  if (bytes > 0) await writeUnlessStopped(out, Buffer.concat(held), signal);
}

/**
 * One write, given up when `signal` fires: a reader that has stopped reading (a full
 * pipe) would otherwise hold Ctrl-C or SIGTERM until it reads again.
 */
function writeUnlessStopped(out: Output, data: Uint8Array, signal: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  return orAborted(out.write(data), signal);
}
