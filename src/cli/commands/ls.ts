/** `cairn ls SNAPSHOT [PATH]`: list a snapshot's entries, recursively. */
import { NotFoundError } from '../../core/errors.js';
import { formatLocalTime } from '../../core/format.js';
import type { Entry } from '../../manifest/types.js';
import { findEntry, splitSnapshotPath } from '../../ops/snapshot-path.js';
import { walkTree } from '../../ops/walk.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatMode, visiblePath } from '../format.js';
import { type FilterOptions, snapshotFilter } from '../snapshot-filter-options.js';

export default async function ls(
  ctx: CommandContext,
  selector: string,
  path: string,
  opts: { long?: boolean } & FilterOptions,
): Promise<number> {
  const filter = snapshotFilter(opts);
  return ctx.withRepo(async (repo) => {
    const { id, snapshot } = await ctx.resolveSnapshot(repo, selector, filter);
    const parts = splitSnapshotPath(path);
    let entries = 0;
    const print = (p: string, e: Entry) => {
      entries++;
      if (ctx.out.json) {
        ctx.out.event({ type: 'entry', path: p, ...describe(e) });
        return;
      }
      ctx.out.result(entryLine(p, e, opts.long ?? false));
    };
    const done = () => {
      ctx.out.event({ type: 'summary', operation: 'ls', snapshot: id, entries });
      return EXIT.ok;
    };
    if (parts.length === 0) {
      for await (const x of walkTree(repo, snapshot.tree, '', ctx.signal)) print(x.path, x.entry);
      return done();
    }
    const entry = await findEntry(repo, snapshot.tree, parts, ctx.signal);
    if (!entry)
      throw new NotFoundError(path, `${visiblePath(path)} is not in snapshot ${id.slice(0, 8)}`);
    const prefix = parts.join('/');
    print(prefix, entry);
    if (entry.kind === 'dir') {
      for await (const x of walkTree(repo, entry.tree, prefix, ctx.signal)) print(x.path, x.entry);
    }
    return done();
  });
}

/**
 * How `ls` (and `find`) show an entry at snapshot path `path`: a directory with a `/`, a
 * symlink with its target; `long` adds mode, owner, size and mtime.
 */
export function entryLine(path: string, e: Entry, long: boolean): string {
  const shown = visiblePath(path);
  const name =
    e.kind === 'dir'
      ? `${shown}/`
      : e.kind === 'symlink'
        ? `${shown} -> ${visiblePath(e.target)}`
        : shown;
  if (!long) return name;
  const size = e.kind === 'file' ? e.size : e.kind === 'dir' ? e.bytes : 0;
  // Local time, as `snapshots` shows it.
  const time = formatLocalTime(new Date(e.mtime.sec * 1000), true);
  return `${formatMode(e.kind, e.mode)} ${String(e.uid).padStart(5)} ${String(e.gid).padStart(5)} ${String(size).padStart(12)} ${time} ${name}`;
}

/**
 * An entry as a JSON-friendly object (ids as hex, inline bytes as a length, extended
 * attributes' values in base64).
 */
export function describe(e: Entry): Record<string, unknown> {
  const base = {
    name: e.name,
    kind: e.kind,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtime: new Date(e.mtime.sec * 1000 + Math.floor(e.mtime.nsec / 1e6)).toISOString(),
    ...(e.xattrs
      ? {
          xattrs: e.xattrs.map((a) => ({
            name: a.name,
            value: Buffer.from(a.value).toString('base64'),
          })),
        }
      : {}),
  };
  switch (e.kind) {
    case 'file':
      return {
        ...base,
        size: e.size,
        chunks: e.chunks.length,
        ...(e.inline ? { inline: true } : {}),
        ...(e.hardlink ? { hardlink: e.hardlink } : {}),
      };
    case 'dir':
      return { ...base, tree: e.tree, files: e.files, size: e.bytes };
    case 'symlink':
      return { ...base, target: e.target };
    default:
      return e.rdev !== undefined ? { ...base, rdev: e.rdev } : base;
  }
}
