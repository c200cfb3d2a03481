/** Test helpers for real files on disk: temp dirs, tree writing and comparison. */
import { createHash } from 'node:crypto';
import { closeSync, constants, openSync, unlinkSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { readXattrs, xattrUnsupportedReason } from '../../src/core/xattrs.js';

const created: string[] = [];

/** A fresh temporary directory, removed after the current test. */
export async function tempDir(prefix = 'cairn-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Names below `dir` (recursively) that are restore temporaries (files or folders). */
export async function tempsBelow(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true });
  return all.filter((n) => n.split('/').some((p) => p.startsWith('.cairn-tmp-')));
}

afterEach(async () => {
  for (const d of created.splice(0)) {
    await rm(d, { recursive: true, force: true }).catch(async () => {
      // restored read-only dirs: make writable, then remove
      await chmodTree(d);
      await rm(d, { recursive: true, force: true });
    });
  }
});

async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755).catch(() => {});
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) await chmodTree(join(dir, e.name));
  }
}

/** Deterministic pseudo-random bytes from a seed (fast, for large test files). */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let block = createHash('sha256').update(`seed:${seed}`).digest();
  for (let off = 0; off < length; off += 32) {
    block.copy(out, off, 0, Math.min(32, length - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** A description of a file tree to create. */
export type TreeSpec = { [name: string]: string | Uint8Array | { link: string } | TreeSpec };

/** Creates `spec` under `dir`. */
export async function writeTree(dir: string, spec: TreeSpec): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, v] of Object.entries(spec)) {
    const p = join(dir, name);
    if (typeof v === 'string' || v instanceof Uint8Array) await writeFile(p, v);
    else if ('link' in v && typeof v.link === 'string') await symlink(v.link, p);
    else await writeTree(p, v as TreeSpec);
  }
}

/** ` x=name:hex,...` for a path's extended attributes, '' for none (or no native module). */
function xattrPart(path: string): string {
  if (xattrUnsupportedReason() !== undefined) return '';
  const list = readXattrs(path);
  if (list.length === 0) return '';
  return ` x=${list.map((a) => `${a.name}:${Buffer.from(a.value).toString('hex')}`).join(',')}`;
}

/**
 * One line per entry: kind, path, mode, mtime (ms), size, content hash or link target,
 * extended attributes.
 */
export async function describeTree(
  dir: string,
  options: { mtimes?: boolean; dirMtimes?: boolean } = {},
): Promise<string[]> {
  const lines: string[] = [];
  const visit = async (abs: string, rel: string) => {
    const names = (await readdir(abs)).sort();
    for (const n of names) {
      const p = join(abs, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      const mt = options.mtimes === false ? '' : ` t=${Math.floor(st.mtimeMs)}`;
      const x = xattrPart(p);
      if (st.isSymbolicLink()) lines.push(`l ${r} -> ${await readlink(p)}${x}`);
      else if (st.isDirectory()) {
        await visit(p, r);
        lines.push(`d ${r} ${mode}${options.dirMtimes === false ? '' : mt}${x}`);
      } else if (st.isFile()) {
        const h = createHash('sha256')
          .update(await readFile(p))
          .digest('hex')
          .slice(0, 16);
        lines.push(`f ${r} ${mode}${mt} ${st.size} ${h}${x}`);
      } else lines.push(`? ${r}`);
    }
  };
  await visit(dir, '');
  return lines;
}

/** Sets a fixed mtime on a path (so comparisons are meaningful). */
export async function setMtime(path: string, sec: number): Promise<void> {
  await utimes(path, sec, sec);
}

/**
 * True where `dir`'s file system takes `O_DIRECT` (tests of uncached writes check their
 * counts only there).
 */
export function takesDirectIo(dir: string): boolean {
  const probe = join(dir, '.direct-io-probe');
  closeSync(openSync(probe, 'w'));
  try {
    closeSync(openSync(probe, constants.O_WRONLY | constants.O_DIRECT));
    return true;
  } catch {
    return false;
  } finally {
    unlinkSync(probe);
  }
}

/** `length` bytes of a repeatable pattern that differs with `seed`. */
export function patternBytes(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 131 + seed * 17 + (i >> 11)) & 255;
  return b;
}
