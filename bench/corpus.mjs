// Deterministic benchmark corpora.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Fast deterministic pseudo-random bytes (SHA-256 counter mode, 1 MiB at a time). */
export function randomBytes(length, seed) {
  const out = Buffer.allocUnsafe(length);
  const block = Buffer.allocUnsafe(32 * 1024);
  let counter = 0;
  for (let off = 0; off < length; off += block.length) {
    for (let i = 0; i < block.length; i += 32) {
      createHash('sha256').update(`${seed}:${counter++}`).digest().copy(block, i);
    }
    block.copy(out, off, 0, Math.min(block.length, length - off));
  }
  return out;
}

/** Text-like data: words from a fixed vocabulary (compressible, realistic for chunking). */
export function textBytes(length, seed) {
  const words = [
    'cairn',
    'chunk',
    'snapshot',
    'repository',
    'the',
    'of',
    'and',
    'backup',
    'restore',
    'tree',
    'blob',
    'data',
    'function',
    'return',
    'const',
    '{',
    '}',
    '\n',
  ];
  const rnd = randomBytes(Math.ceil(length / 3), `t${seed}`);
  const parts = [];
  let n = 0;
  for (let i = 0; n < length; i++) {
    const w = words[rnd[i % rnd.length] % words.length];
    parts.push(w, ' ');
    n += w.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, length);
}

/** `files` files totalling about `totalBytes`, half random, half text (`seed` varies them). */
export async function writeLargeCorpus(dir, totalBytes, files, seed = '') {
  await mkdir(dir, { recursive: true });
  const each = Math.floor(totalBytes / files);
  for (let i = 0; i < files; i++) {
    const s = `${seed}${i}`;
    const data = i % 2 === 0 ? randomBytes(each, s) : textBytes(each, s);
    await writeFile(join(dir, `file-${String(i).padStart(4, '0')}.bin`), data);
  }
}

/** `count` small files of 1 B..16 KiB in directories of 1000. */
export async function writeSmallFiles(dir, count) {
  const sizes = randomBytes(count * 2, 'sizes');
  const pool = randomBytes(16 * 1024 + 4096, 'pool');
  for (let d = 0; d * 1000 < count; d++) {
    const sub = join(dir, `d${String(d).padStart(3, '0')}`);
    await mkdir(sub, { recursive: true });
    const writes = [];
    for (let i = d * 1000; i < Math.min(count, (d + 1) * 1000); i++) {
      const size = 1 + (sizes.readUInt16BE(i * 2) % (16 * 1024));
      const off = i % 4096;
      writes.push(writeFile(join(sub, `f${i}.dat`), pool.subarray(off, off + size)));
    }
    await Promise.all(writes);
  }
}

/**
 * A copy of the large corpus `src` in `dir` with the edits: 30 small inserts
 * (100 B each, in 30 files), 5 appends (64 KiB each) and 5 deletes (4 KiB ranges cut out
 * of 5 files). Every edit lands mid-file, so a chunker must find the chunks around it
 * again; the new data a backup of the copy should add is a few MB. Deterministic.
 */
export async function writeModifiedCopy(src, dir) {
  const tmp = dir;
  await mkdir(tmp, { recursive: true });
  const names = (await readdir(src)).sort();
  const edits = { inserts: 0, appends: 0, deletes: 0, bytesInserted: 0 };
  for (const [i, name] of names.entries()) {
    let data = await readFile(join(src, name));
    const at = (fraction) => Math.floor(data.length * fraction);
    if (i % 6 === 3 && edits.inserts < 30) {
      const piece = randomBytes(100, `insert-${i}`);
      const cut = at(0.37);
      data = Buffer.concat([data.subarray(0, cut), piece, data.subarray(cut)]);
      edits.inserts++;
      edits.bytesInserted += piece.length;
    }
    if (i % 40 === 1) {
      const piece = randomBytes(65536, `append-${i}`);
      data = Buffer.concat([data, piece]);
      edits.appends++;
      edits.bytesInserted += piece.length;
    }
    if (i % 40 === 2) {
      const cut = at(0.61);
      data = Buffer.concat([data.subarray(0, cut), data.subarray(cut + 4096)]);
      edits.deletes++;
    }
    await writeFile(join(tmp, name), data);
  }
  return edits;
}

/**
 * `dir` made by `write(partialDir)` once: written under `<dir>.partial` and renamed when
 * complete, so an interrupted run never leaves a corpus that looks finished.
 */
export async function ensureCorpus(dir, write) {
  if (existsSync(dir)) return dir;
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await write(partial);
  await rename(partial, dir);
  return dir;
}
