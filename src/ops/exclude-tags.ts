/**
 * Directories excluded by a tag file inside them (`--exclude-if-present NAME[:HEADER]`,
 * `--exclude-caches`), with restic's rules:
 * - a directory holding an entry called NAME is tagged; with a HEADER, only when that
 *   entry is a regular file (or a link to one) whose content starts with HEADER;
 * - a tagged directory is kept, with the tag files that tagged it, but nothing else of
 *   its content (so a restored cache directory is still marked as one);
 * - `--exclude-caches` is `CACHEDIR.TAG` with the signature of the Cache Directory
 *   Tagging Specification (https://bford.info/cachedir/), which browsers, compilers
 *   and package managers put in their caches.
 * A tag file that cannot be read, or is shorter than its header, tags nothing: the
 * directory is backed up whole, and any read failure is reported when the file itself
 * is backed up.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import { nameToBytes } from '../core/fs-names.js';
import { nameProblem } from '../manifest/names.js';

/** The tag file of the Cache Directory Tagging Specification. */
export const CACHEDIR_TAG = 'CACHEDIR.TAG';
/** The first bytes a valid CACHEDIR.TAG holds. */
export const CACHEDIR_SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';

/** One tag: the entry's name, and the bytes its content must start with (if any). */
export interface ExcludeTag {
  name: string;
  header?: Buffer;
}

/** The tag of `--exclude-caches`. */
export const CACHEDIR_EXCLUDE_TAG: ExcludeTag = {
  name: CACHEDIR_TAG,
  header: Buffer.from(CACHEDIR_SIGNATURE),
};

/**
 * Parses `NAME` or `NAME:HEADER` (split at the first colon, as restic does). UsageError
 * for an empty name, or one that is not a single path component.
 */
export function parseExcludeTag(spec: string): ExcludeTag {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const what = `--exclude-if-present ${JSON.stringify(spec)}`;
  if (name === '') {
    throw new UsageError(
      colon < 0 ? `${what}: no file name` : `${what}: no file name before the ':'`,
    );
  }
  if (nameProblem(name)) {
    throw new UsageError(`${what}: the name must be a file name, not a path`);
  }
  if (colon < 0) return { name };
  const header = spec.slice(colon + 1);
  // A byte of the argument that is not UTF-8 comes as an escape (core/fs-names.ts).
  return header === '' ? { name } : { name, header: nameToBytes(header) };
}

/** The tags a backup excludes by; see the module comment. */
export class TagExcluder {
  private readonly tags: readonly ExcludeTag[];

  constructor(tags: readonly ExcludeTag[]) {
    // The same tag twice would keep its file twice.
    const seen = new Set<string>();
    this.tags = tags.filter((t) => {
      const key = `${t.name}\0${t.header?.toString('hex') ?? ''}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  /** The tags, without repeats. */
  get list(): readonly ExcludeTag[] {
    return this.tags;
  }

  /** True when no tag is set. */
  get empty(): boolean {
    return this.tags.length === 0;
  }

  /**
   * The names of the tag files that tag a directory whose entries are `names` (`child`
   * gives the file-system path of an entry), or undefined when it is not tagged.
   */
  tagsIn(names: readonly string[], child: (name: string) => string | Buffer): string[] | undefined {
    const found: string[] = [];
    for (const tag of this.tags) {
      if (found.includes(tag.name) || !names.includes(tag.name)) continue;
      if (tag.header && !startsWith(child(tag.name), tag.header)) continue;
      found.push(tag.name);
    }
    return found.length > 0 ? found : undefined;
  }
}

/** True when `path` is a regular file (links followed) whose content starts with `header`. */
function startsWith(path: string | Buffer, header: Buffer): boolean {
  let fd: number;
  try {
    // Non-blocking, so a FIFO of that name does not stop the backup waiting for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    if (!fstatSync(fd).isFile()) return false;
    const buf = Buffer.alloc(header.length);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) return false;
      got += n;
    }
    return buf.equals(header);
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}
