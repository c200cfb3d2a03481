/**
 * Setting a restored entry's extended attributes. Never throws: a restored file with
 * its content is worth more than one attribute, so what cannot be set comes back as a
 * problem in words, which the restore reports as a warning naming the path.
 *
 * Without root, attributes of the `trusted.` and `security.` namespaces are skipped
 * silently, as ownership is (the kernel allows them to privileged processes only:
 * file capabilities, SELinux labels). Where cairn's native module is missing nothing
 * is set; the restore says so once (RestoreRun). Callers set attributes after chown
 * (which clears `security.capability`) and before chmod (a user's own read-only file
 * takes no `user.*` attributes).
 */
import { errorCause } from '../core/errno.js';
import {
  readXattrs,
  removeXattr,
  setXattr,
  type Xattr,
  xattrUnsupportedReason,
} from '../core/xattrs.js';

const isRoot = process.getuid?.() === 0;

/** True for attributes only a privileged process may set. */
function privileged(name: string): boolean {
  return name.startsWith('trusted.') || name.startsWith('security.');
}

/** True when this process would try to set (or remove) attribute `name`. */
function settable(name: string): boolean {
  return isRoot || !privileged(name);
}

function problemOf(failed: string[]): string | undefined {
  return failed.length > 0 ? `extended attributes not restored: ${failed.join('; ')}` : undefined;
}

/**
 * Sets `list` on a new file, symlink or node: open descriptor `target`, or a path (a
 * symlink itself, not followed). The problem in words, or undefined.
 */
export function setNewXattrs(
  target: number | string | Buffer,
  list: readonly Xattr[] | undefined,
): string | undefined {
  if (list === undefined || list.length === 0 || xattrUnsupportedReason() !== undefined) {
    return undefined;
  }
  const failed: string[] = [];
  for (const a of list) {
    if (!settable(a.name)) continue;
    try {
      setXattr(target, a);
    } catch (err) {
      failed.push(`${a.name}: ${errorCause(err)}`);
    }
  }
  return problemOf(failed);
}

/**
 * Makes the attributes of existing `path` (not followed) equal `list`: sets those that
 * differ and removes those `list` lacks (what this process may change). The problem in
 * words, or undefined.
 */
export function syncXattrs(
  path: string | Buffer,
  list: readonly Xattr[] | undefined,
): string | undefined {
  if (xattrUnsupportedReason() !== undefined) return undefined;
  const want = list ?? [];
  let have: readonly Xattr[];
  try {
    have = readXattrs(path);
  } catch (err) {
    return problemOf([errorCause(err)]);
  }
  if (have.length === 0 && want.length === 0) return undefined;
  const failed: string[] = [];
  const wanted = new Map(want.map((a) => [a.name, a.value]));
  for (const a of have) {
    if (wanted.has(a.name) || !settable(a.name)) continue;
    try {
      removeXattr(path, a.name);
    } catch (err) {
      failed.push(`${a.name}: ${errorCause(err)}`);
    }
  }
  const current = new Map(have.map((a) => [a.name, a.value]));
  for (const a of want) {
    const now = current.get(a.name);
    if ((now && Buffer.compare(now, a.value) === 0) || !settable(a.name)) continue;
    try {
      setXattr(path, a);
    } catch (err) {
      failed.push(`${a.name}: ${errorCause(err)}`);
    }
  }
  return problemOf(failed);
}

/**
 * True when the attributes of existing `path` already equal `list`, as far as this
 * process can change them (for `restore --overwrite changed`); false when unreadable.
 */
export function xattrsMatch(path: string | Buffer, list: readonly Xattr[] | undefined): boolean {
  if (xattrUnsupportedReason() !== undefined) return true;
  let have: readonly Xattr[];
  try {
    have = readXattrs(path);
  } catch {
    return false;
  }
  const mine = (l: readonly Xattr[]) => l.filter((a) => settable(a.name));
  const a = mine(have);
  const b = mine(list ?? []);
  return (
    a.length === b.length &&
    a.every((x, i) => x.name === b[i]!.name && Buffer.compare(x.value, b[i]!.value) === 0)
  );
}
