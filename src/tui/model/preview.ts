/**
 * Previewing a file: read at most a limited number of bytes (inline content, or the
 * first chunks, each verified by the blob store), decide whether it is text, and turn
 * text into display lines with tabs expanded and control characters made visible.
 */
import { throwIfAborted } from '../../core/abort.js';
import type { FileEntry } from '../../manifest/types.js';
import type { Repository } from '../../repo/repository.js';

/** Bytes read for a preview at most. */
export const PREVIEW_LIMIT = 64 * 1024;

/** What a preview shows. */
export type PreviewData =
  | { kind: 'text'; lines: string[]; size: number; truncated: boolean }
  | { kind: 'binary'; head: Uint8Array; size: number };

/** Reads the start of `file` (up to `limit` bytes) and classifies it. */
export async function loadPreview(
  repo: Repository,
  file: FileEntry,
  limit = PREVIEW_LIMIT,
  signal?: AbortSignal,
): Promise<PreviewData> {
  const bytes = await readHead(repo, file, limit, signal);
  const truncated = file.size > bytes.length;
  if (isBinary(bytes, truncated))
    return { kind: 'binary', head: bytes.subarray(0, 256), size: file.size };
  const text = new TextDecoder('utf-8').decode(bytes);
  return { kind: 'text', lines: toDisplayLines(text), size: file.size, truncated };
}

/** The first `limit` bytes of a file's content. */
export async function readHead(
  repo: Repository,
  file: FileEntry,
  limit: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (file.inline) return file.inline.subarray(0, limit);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const chunk of file.chunks) {
    if (total >= limit) break;
    throwIfAborted(signal);
    const data = await repo.blobs.get('data', chunk.id, { signal });
    parts.push(data);
    total += data.length;
  }
  return Buffer.concat(parts).subarray(0, limit);
}

/**
 * True when `bytes` look binary: a NUL byte, or bytes that are not UTF-8. When the
 * content was cut (`truncated`), an incomplete character at the very end is allowed.
 */
export function isBinary(bytes: Uint8Array, truncated = false): boolean {
  if (bytes.includes(0)) return true;
  try {
    // `stream` leaves an unfinished character at the end pending instead of failing.
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: truncated });
    return false;
  } catch {
    return true;
  }
}

/**
 * Text as terminal lines: CRLF/CR endings removed, tabs expanded to 8-column stops,
 * other control characters shown as `?` so they cannot move the cursor.
 */
export function toDisplayLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return lines.map((line) => {
    let out = '';
    for (const ch of line) {
      if (ch === '\t') out += ' '.repeat(8 - (out.length % 8));
      else if (ch < ' ' || ch === '\x7f' || (ch >= '\x80' && ch < '\xa0')) out += '?';
      else out += ch;
    }
    return out;
  });
}

/** A classic hex dump (16 bytes a line) of `bytes`. */
export function hexDump(bytes: Uint8Array): string[] {
  const lines: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) =>
      b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.',
    ).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines;
}
