/**
 * `mkdir -p` that cannot spin: Node's own `mkdir(path, { recursive: true })` loops
 * forever, burning a core in a thread that no signal stops, when a file system answers
 * ENOENT for a directory whose parent exists (seen with `restore --target /proc/x`).
 * This one creates one level at a time and gives up on a second ENOENT.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Creates one directory (not its parents); what `makeDirectories` calls. */
export type MakeDirectory = (path: string | Buffer) => Promise<unknown>;

const makeOne: MakeDirectory = (path) => mkdir(path);

/**
 * Creates `path` and any missing parents. Resolves the first directory it created (the
 * topmost), or undefined when `path` was already a directory, as `mkdir` with
 * `recursive` does. Rejects with the file system's error (EEXIST when `path` or a parent
 * is not a directory, ENOENT when a level cannot be made, EACCES...). A Buffer path (a
 * name below an open directory, see deep-path.ts) gets no parents made.
 */
export async function makeDirectories<P extends string | Buffer>(
  path: P,
  makeDirectory: MakeDirectory = makeOne,
): Promise<P | undefined> {
  try {
    await makeDirectory(path);
    return path;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (await isDirectory(path)) return undefined;
      throw err;
    }
    if (code !== 'ENOENT' || typeof path !== 'string' || dirname(path) === path) throw err;
  }
  const first = await makeDirectories(dirname(path as string), makeDirectory);
  try {
    // A second ENOENT here is the file system's answer, not a missing parent: thrown.
    await makeDirectory(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await isDirectory(path))) {
      return first as P; // made meanwhile by someone else
    }
    throw err;
  }
  return (first as P | undefined) ?? path;
}

async function isDirectory(path: string | Buffer): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
