/**
 * The paths a backup is limited to (`backup --files-from`): each listed path is kept, a
 * directory with everything below it (the filters still apply there), and so are the
 * directories leading to a listed path, holding only what leads on; nothing else is.
 * Paths are absolute and normalized, as the walk joins them.
 */
import { dirname, resolve, sep } from 'node:path';

/** What `resolve` would change in an absolute path: `//`, `.` or `..` parts, an ending `/`. */
const UNNORMALIZED = /\/\/|\/\.\.?(\/|$)|.\/$/;

/**
 * `resolve(path)`, without its work when `path` is already absolute and normalized: a
 * list of a million paths is resolved once, in the CLI, and checked twice more.
 */
export function absolutePath(path: string): string {
  return path.startsWith('/') && !UNNORMALIZED.test(path) ? path : resolve(path);
}

export class PathSelection {
  private readonly listed = new Set<string>();
  /** Every directory above a listed path. */
  private readonly leading = new Set<string>();
  /** Listed paths a directory listing (or the roots) held. */
  private readonly found = new Set<string>();
  /** Entries the other filters left out, when a listed path may lie below them. */
  private readonly leftOut = new Set<string>();

  constructor(paths: Iterable<string>) {
    for (const p of paths) {
      this.listed.add(p);
      for (let at = p; ; ) {
        const up = dirname(at);
        // Once one directory is known, so are the ones above it.
        if (up === at || this.leading.has(up)) break;
        this.leading.add(up);
        at = up;
      }
    }
  }

  get size(): number {
    return this.listed.size;
  }

  /** The listed paths, in the order first given. */
  paths(): IterableIterator<string> {
    return this.listed.values();
  }

  /** True when everything below directory `dir` is kept: it, or one above it, is listed. */
  covers(dir: string): boolean {
    for (let at = dir; ; at = dirname(at)) {
      if (this.listed.has(at)) return true;
      if (dirname(at) === at) return false;
    }
  }

  /** True when `path`, in a directory `covers` does not cover, is kept. */
  keeps(path: string): boolean {
    return this.listed.has(path) || this.leading.has(path);
  }

  /** Notes that `path` exists (its directory's listing held it). */
  noteFound(path: string): void {
    if (this.listed.has(path)) this.found.add(path);
  }

  /**
   * Notes that the filters (excludes, tag files, `--one-file-system`) left `path` out:
   * a listed path below it is not missing, it is excluded.
   */
  noteLeftOut(path: string): void {
    if (this.leading.has(path)) this.leftOut.add(path);
  }

  /** The listed paths the walk neither found nor saw left out, in the order given. */
  missing(): string[] {
    return [...this.listed].filter((p) => !this.found.has(p) && !this.belowLeftOut(p));
  }

  private belowLeftOut(path: string): boolean {
    if (this.leftOut.size === 0) return false;
    for (let at = dirname(path); ; at = dirname(at)) {
      if (this.leftOut.has(at)) return true;
      if (dirname(at) === at) return false;
    }
  }

  /**
   * The deepest directory holding every listed path (a listed directory itself is held
   * by its parent): what a backup given no PATH backs up.
   */
  commonDirectory(): string {
    let common: string | undefined;
    for (const p of this.listed) {
      const dir = dirname(p);
      common = common === undefined ? dir : commonPrefixDir(common, dir);
    }
    if (common === undefined) throw new Error('commonDirectory of an empty selection');
    return common;
  }
}

/** The deepest directory that is `a` or above it and `b` or above it. */
function commonPrefixDir(a: string, b: string): string {
  const x = a.split(sep);
  const y = b.split(sep);
  let n = 0;
  while (n < x.length && n < y.length && x[n] === y[n]) n++;
  const joined = x.slice(0, n).join(sep);
  return joined === '' ? sep : joined;
}
