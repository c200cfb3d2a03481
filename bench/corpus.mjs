// Deterministic benchmark corpora.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
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

/** `files` files totalling about `totalBytes`, half random, half text. */
export async function writeLargeCorpus(dir, totalBytes, files) {
  await mkdir(dir, { recursive: true });
  const each = Math.floor(totalBytes / files);
  for (let i = 0; i < files; i++) {
    const data = i % 2 === 0 ? randomBytes(each, i) : textBytes(each, i);
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
