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
 * takes no `user.*` attributes). Restore only ever adds or replaces attributes, never
 * removes one (see addXattrs).
 */
import { errorCause } from '../core/errno.js';
import { isRoot } from '../core/process.js';
import { readXattrs, setXattr, type Xattr, xattrUnsupportedReason } from '../core/xattrs.js';

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
  return setEach(
    target,
    list.filter((a) => settable(a.name)),
  );
}

/** Sets every attribute of `list` on `target`; the problem in words, or undefined. */
function setEach(target: number | string | Buffer, list: readonly Xattr[]): string | undefined {
  const failed: string[] = [];
  for (const a of list) {
    try {
      setXattr(target, a);
    } catch (err) {
      failed.push(`${a.name}: ${errorCause(err)}`);
    }
  }
  return problemOf(failed);
}

/**
 * Sets on existing `path` (not followed) the attributes of `list` it lacks or holds
 * with another value. Attributes `list` does not name are left alone: an entry without
 * attributes may come from a backup that did not record them (`--no-xattrs`, no native
 * module, an older cairn), and a target's own (an inherited ACL, an SELinux label) are
 * the target's. `missing`: missingXattrs's answer, when the caller has it already. The
 * problem in words, or undefined.
 */
export function addXattrs(
  path: string | Buffer,
  list: readonly Xattr[] | undefined,
  missing = missingXattrs(path, list),
): string | undefined {
  if (typeof missing === 'string') return problemOf([missing]);
  return setEach(path, missing);
}

/**
 * The attributes of `list` that existing `path` lacks or holds with another value (of
 * those this process may set), or why its own could not be read.
 */
export function missingXattrs(
  path: string | Buffer,
  list: readonly Xattr[] | undefined,
): readonly Xattr[] | string {
  const want = (list ?? []).filter((a) => settable(a.name));
  if (want.length === 0 || xattrUnsupportedReason() !== undefined) return [];
  let have: readonly Xattr[];
  try {
    have = readXattrs(path);
  } catch (err) {
    return errorCause(err);
  }
  const current = new Map(have.map((a) => [a.name, a.value]));
  return want.filter((a) => {
    const now = current.get(a.name);
    return !now || Buffer.compare(now, a.value) !== 0;
  });
}
