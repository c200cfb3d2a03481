/**
 * All-zero data: the holes of sparse files and the zeroed regions of disk images and
 * databases. Backup hashes such a chunk once per length (repo/codec.ts) and restore
 * leaves it as a hole (ops/restore-jobs.ts).
 */

/** A run of zeros to compare against (data is compared slice by slice). */
const ZEROS = Buffer.alloc(64 * 1024);

/**
 * True when every byte of `data` is zero. Data that is not stops at its first nonzero
 * byte (a `memcmp`), so asking costs next to nothing for ordinary content.
 */
export function isAllZero(data: Uint8Array): boolean {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 0; at < buf.length; at += ZEROS.length) {
    const end = Math.min(buf.length, at + ZEROS.length);
    if (!buf.subarray(at, end).equals(ZEROS.subarray(0, end - at))) return false;
  }
  return true;
}
