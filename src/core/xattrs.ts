/**
 * Extended attributes of files: reading them for backup and setting them on restore.
 * They hold POSIX ACLs (`system.posix_acl_*`), file capabilities (`security.capability`),
 * SELinux labels and user data (`user.*`).
 *
 * Node has no calls for them, so they come from a small Node-API module of cairn's own
 * (native/xattr.c, built by scripts/build-native.mjs into dist/native/xattr.node). Where
 * it is missing (no C compiler at install) or cannot load, `xattrSupport()` says why and
 * the callers go on without attributes, saying so once. `CAIRN_XATTR_MODULE` names
 * another module file (tests use it to see that path).
 *
 * Names are bytes on disk; in memory they are strings as file names are (fs-names.ts:
 * bytes that are not UTF-8 become lone surrogates). Lists are in name order by bytes,
 * as the tree format wants them.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nameFromBytes, nameToBytes } from './fs-names.js';

/** One extended attribute: its full name (`user.comment`) and its value's bytes. */
export interface Xattr {
  name: string;
  value: Uint8Array;
}

/** What native/xattr.c exports. */
interface XattrModule {
  list(path: Buffer): Buffer | undefined;
  get(path: Buffer, name: Buffer): Buffer;
  set(path: Buffer, name: Buffer, value: Uint8Array): void;
  fset(fd: number, name: Buffer, value: Uint8Array): void;
  remove(path: Buffer, name: Buffer): void;
}

/** The empty list (shared: callers never change a list they are given). */
export const NO_XATTRS: Xattr[] = [];

const MODULE_FILE = join('dist', 'native', 'xattr.node');

/**
 * Where the module is, from the folder of this code: dist/core, dist/bin/b-<hash> (the
 * bundle), or src/core (tests run the sources). Only these places, all inside cairn's
 * own folder: a search further up could load any file of that name, which whoever can
 * write to such a folder (/tmp) could put there.
 */
const MODULE_PLACES = [
  join('..', 'native', 'xattr.node'),
  join('..', '..', 'native', 'xattr.node'),
  join('..', '..', MODULE_FILE),
];

let loaded: { module?: XattrModule; reason?: string } | undefined;

/** The module file: `CAIRN_XATTR_MODULE`, else the first of MODULE_PLACES that exists. */
function moduleFile(): string | undefined {
  const chosen = process.env.CAIRN_XATTR_MODULE;
  if (chosen) return chosen;
  const here = dirname(fileURLToPath(import.meta.url));
  return MODULE_PLACES.map((p) => join(here, p)).find((file) => existsSync(file));
}

function load(): { module?: XattrModule; reason?: string } {
  if (loaded) return loaded;
  const file = moduleFile();
  if (!file) {
    loaded = { reason: `${MODULE_FILE} was not built (it needs a C compiler: npm run build)` };
    return loaded;
  }
  try {
    loaded = { module: createRequire(import.meta.url)(file) as XattrModule };
  } catch (err) {
    loaded = { reason: `${file} did not load: ${(err as Error).message.split('\n')[0]}` };
  }
  return loaded;
}

/** Undefined where attributes can be read and set here, else why not. */
export function xattrUnsupportedReason(): string | undefined {
  return load().reason;
}

function native(): XattrModule {
  const m = load().module;
  if (!m) throw new Error(`extended attributes are not available: ${load().reason}`);
  return m;
}

function pathBytes(at: string | Buffer): Buffer {
  return typeof at === 'string' ? nameToBytes(at) : at;
}

/** Adds the path to a module error, as Node's own errors carry it. */
function withPath<T>(at: string | Buffer, call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof Error) (err as NodeJS.ErrnoException).path = String(at);
    throw err;
  }
}

/**
 * The extended attributes of `at` (never following a symlink), in name order; empty
 * where it has none or its file system keeps none. Throws errno errors (EACCES...).
 * An attribute removed between listing and reading is left out.
 */
export function readXattrs(at: string | Buffer): readonly Xattr[] {
  const m = native();
  const path = pathBytes(at);
  const list = withPath(at, () => m.list(path));
  if (list === undefined || list.length === 0) return NO_XATTRS;
  const names: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    if (list[i] !== 0) continue;
    if (i > start) names.push(list.subarray(start, i));
    start = i + 1;
  }
  names.sort(Buffer.compare);
  const out: Xattr[] = [];
  for (const name of names) {
    let value: Buffer;
    try {
      value = withPath(at, () => m.get(path, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENODATA') continue;
      throw err;
    }
    out.push({ name: nameFromBytes(name), value });
  }
  return out;
}

/** Why attributes could not be read: the errno code and the message. */
export interface XattrsUnreadable {
  code: string;
  message: string;
}

/**
 * `readXattrs`, with a failure as a value (for a scan that posts it to another thread,
 * or a caller that records the entry without them).
 */
export function tryReadXattrs(at: string | Buffer): readonly Xattr[] | XattrsUnreadable {
  try {
    return readXattrs(at);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    return { code: code ?? 'EIO', message };
  }
}

/** Sets one attribute on `at` (not following a symlink) or on open descriptor `at`. */
export function setXattr(at: string | Buffer | number, attr: Xattr): void {
  const m = native();
  const name = nameToBytes(attr.name);
  if (typeof at === 'number') m.fset(at, name, attr.value);
  else {
    const path = pathBytes(at);
    withPath(at, () => m.set(path, name, attr.value));
  }
}

/** Removes attribute `name` from `at` (not following a symlink). */
export function removeXattr(at: string | Buffer, name: string): void {
  const m = native();
  const path = pathBytes(at);
  withPath(at, () => m.remove(path, nameToBytes(name)));
}
