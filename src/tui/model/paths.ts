/**
 * Snapshot paths as the TUI keeps them: names joined by `/`, relative to the snapshot
 * root, with `''` for the root itself. The same form `restore`'s `include` takes.
 */

/** `dir/name`, or `name` at the root. */
export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** The directory holding `path`; undefined for the root. */
export function parentPath(path: string): string | undefined {
  if (path === '') return undefined;
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** True when `path` lies strictly inside directory `dir`. */
export function isInside(path: string, dir: string): boolean {
  return dir === '' ? path !== '' : path.startsWith(`${dir}/`);
}

/** The names of `path`, root first (`''` has none). */
export function pathNames(path: string): string[] {
  return path === '' ? [] : path.split('/');
}
