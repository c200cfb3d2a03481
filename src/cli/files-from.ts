/**
 * `backup --files-from FILE`, `--files-from-verbatim FILE` and `--files-from-raw FILE`:
 * lists of the paths a backup is limited to, read before the repository is opened.
 * `-` reads standard input (once). Names are taken byte for byte: a name that is not
 * UTF-8 is kept exact, as the walk names it.
 *
 * - `--files-from`: one path per line; empty lines and lines starting with `#` are
 *   left out; a line ending in CR LF loses the CR (a list written on Windows).
 * - `--files-from-verbatim`: every non-empty line is a path, `#` and CR included.
 * - `--files-from-raw`: paths separated by NUL bytes (`find -print0`, `git ls-files -z`).
 */
import { readFile } from 'node:fs/promises';
import { errorCause } from '../core/errno.js';
import { UsageError } from '../core/errors.js';
import { nameFromBytes } from '../core/fs-names.js';

/** The options as commander collects them. */
export interface FilesFromCliOptions {
  filesFrom?: string[];
  filesFromVerbatim?: string[];
  filesFromRaw?: string[];
}

type ListKind = 'text' | 'verbatim' | 'raw';

/** True when any list option was given. */
export function hasFilesFrom(opts: FilesFromCliOptions): boolean {
  return (
    opts.filesFrom !== undefined ||
    opts.filesFromVerbatim !== undefined ||
    opts.filesFromRaw !== undefined
  );
}

/**
 * The paths of every list, in the order given, as written (relative ones are taken from
 * the working directory by the backup); undefined when no list was given. A list
 * that names nothing is a usage error: a backup limited to nothing is a mistake (an
 * empty `git ls-files` in the wrong directory), not an empty snapshot.
 */
export async function readFilesFrom(
  opts: FilesFromCliOptions,
  readStdin: () => Promise<Buffer>,
): Promise<string[] | undefined> {
  const lists: Array<[string, ListKind, string]> = [
    ...(opts.filesFrom ?? []).map((f) => ['--files-from', 'text', f] as [string, ListKind, string]),
    ...(opts.filesFromVerbatim ?? []).map(
      (f) => ['--files-from-verbatim', 'verbatim', f] as [string, ListKind, string],
    ),
    ...(opts.filesFromRaw ?? []).map(
      (f) => ['--files-from-raw', 'raw', f] as [string, ListKind, string],
    ),
  ];
  if (lists.length === 0) return undefined;
  if (lists.filter(([, , f]) => f === '-').length > 1) {
    throw new UsageError('standard input (-) can be read as one list only');
  }
  const paths: string[] = [];
  for (const [option, kind, file] of lists) {
    if (file === '') throw new UsageError(`${option} "": the path is empty`);
    let bytes: Buffer;
    try {
      bytes = file === '-' ? await readStdin() : await readFile(file);
    } catch (err) {
      throw new UsageError(`${option}: cannot read ${file}: ${errorCause(err)}`, { cause: err });
    }
    pathsOf(bytes, kind, paths);
  }
  if (paths.length === 0) {
    throw new UsageError(
      `${lists.map(([o, , f]) => `${o} ${f}`).join(', ')}: no path listed (a backup of nothing)`,
    );
  }
  return paths;
}

/** Appends the paths in one list's bytes to `out` (one by one: a list can be millions long). */
function pathsOf(bytes: Buffer, kind: ListKind, out: string[]): void {
  const separator = kind === 'raw' ? 0 : 0x0a;
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(separator, start);
    if (end < 0) end = bytes.length;
    let piece = bytes.subarray(start, end);
    start = end + 1;
    if (kind === 'text') {
      if (piece.at(-1) === 0x0d) piece = piece.subarray(0, -1);
      if (piece[0] === 0x23) continue; // '#'
    }
    if (piece.length > 0) out.push(nameFromBytes(piece));
  }
}
