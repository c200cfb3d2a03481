/**
 * What prune keeps in the repository between runs (see docs/format.md, "Prune state"):
 *
 * - `prune/epoch`: a random id rewritten every time prune deletes blobs. Clients keep
 *   local knowledge of which blobs exist (the blob inventory); one opened under another
 *   epoch is discarded, because a blob it lists may be gone.
 * - `prune/candidates`: the blobs the last *mark* found unreferenced, and when. A later
 *   prune run deletes only those still unreferenced once the grace period has passed.
 *   The keys themselves are in parts of at most PART_KEYS lines under
 *   `prune/marks/<mark>/`, written before `prune/candidates` names them, so that
 *   neither writing nor reading a mark holds every candidate in memory (a repository
 *   after a large `forget` can have millions).
 *
 * Both are plain text (JSON, key lines): they hold only blob keys, which are object
 * names anyway, and times.
 */
import type { Backend, CallOptions } from '../backends/backend.js';
import { FormatError, hasCode } from '../core/errors.js';
import { randomId } from '../core/ids.js';

/** Key of the prune epoch. */
export const PRUNE_EPOCH_KEY = 'prune/epoch';
/** Key of the candidate list of the last mark. */
export const PRUNE_CANDIDATES_KEY = 'prune/candidates';
/** Prefix of the parts of marks' candidate lists. */
export const PRUNE_MARKS_PREFIX = 'prune/marks/';

/** Keys per part of a candidate list. */
export const PART_KEYS = 65_536;
/** The largest part: PART_KEYS lines of a blob key (72 characters) and a newline (4.6 MiB). */
export const MAX_PART_BYTES = PART_KEYS * 73;

/** The epoch of a repository that was never pruned. */
export const INITIAL_EPOCH = '0';

/** A blob key as a candidate list may hold it. */
const BLOB_KEY = /^(data|tree)\/[0-9a-f]{2}\/[0-9a-f]{64}$/;
/** A mark id: 16 hex digits. */
const MARK_ID = /^[0-9a-f]{16}$/;

/**
 * The result of a prune mark, as `prune/candidates` records it. Its keys are read with
 * `candidateKeys`.
 */
export interface PruneCandidates {
  /** When the mark listed the repository (ISO 8601). */
  time: string;
  /** How many blob keys (`data/…`, `tree/…`) no snapshot referenced then. */
  count: number;
  /** The mark's id: its keys are in `prune/marks/<mark>/<i>`, i from 0 to parts - 1. */
  mark?: string;
  parts?: number;
  /** The keys themselves, in lists written by cairn before parts (read only). */
  keys?: string[];
}

/** Reads the repository's prune epoch ("0" when never pruned or unreadable). */
export async function readPruneEpoch(backend: Backend, options?: CallOptions): Promise<string> {
  try {
    const v = JSON.parse(new TextDecoder().decode(await backend.get(PRUNE_EPOCH_KEY, options)));
    return typeof v?.epoch === 'string' ? v.epoch : INITIAL_EPOCH;
  } catch (err) {
    if (hasCode(err, 'aborted')) throw err;
    if (hasCode(err, 'backend')) throw err;
    return INITIAL_EPOCH;
  }
}

/** Publishes a new random epoch and returns it. */
export async function bumpPruneEpoch(backend: Backend, options?: CallOptions): Promise<string> {
  const epoch = randomId().slice(0, 16);
  const body = JSON.stringify({ epoch, time: new Date().toISOString() });
  await backend.put(PRUNE_EPOCH_KEY, new TextEncoder().encode(`${body}\n`), options);
  return epoch;
}

/** Reads the candidates of the last mark, or undefined when there are none. */
export async function readCandidates(
  backend: Backend,
  options?: CallOptions,
): Promise<PruneCandidates | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await backend.get(PRUNE_CANDIDATES_KEY, options);
  } catch (err) {
    if (hasCode(err, 'not-found')) return undefined;
    throw err;
  }
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new FormatError(PRUNE_CANDIDATES_KEY, 'not JSON', { cause: err });
  }
  const c = v as Record<string, unknown> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.time !== 'string' ||
    !Number.isFinite(Date.parse(c.time))
  ) {
    throw new FormatError(PRUNE_CANDIDATES_KEY, 'not a candidate list {time, ...}');
  }
  if (Array.isArray(c.keys)) {
    // The form before parts: every key inline.
    const keys = c.keys;
    if (!keys.every((k) => typeof k === 'string' && BLOB_KEY.test(k))) {
      throw new FormatError(PRUNE_CANDIDATES_KEY, 'a key is not a blob key');
    }
    return { time: c.time, count: keys.length, keys: keys as string[] };
  }
  const { mark, parts, count } = c;
  if (
    typeof mark !== 'string' ||
    !MARK_ID.test(mark) ||
    !isCount(parts) ||
    !isCount(count) ||
    count > parts * PART_KEYS ||
    (parts > 0 && count <= (parts - 1) * PART_KEYS)
  ) {
    throw new FormatError(
      PRUNE_CANDIDATES_KEY,
      'not a candidate list {time, count, mark, parts} with consistent counts',
    );
  }
  return { time: c.time, count, mark, parts };
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** The key of part `i` of mark `mark`'s candidate list. */
export function candidatePartKey(mark: string, i: number): string {
  return `${PRUNE_MARKS_PREFIX}${mark}/${i}`;
}

/**
 * The candidates' keys in order, one part in memory at a time. Throws a FormatError
 * when a part is missing, too large, holds something other than blob keys or the wrong
 * number of them, or the parts do not add up to `count`. The error can come after
 * earlier parts' keys were given: read to the end before acting on any of them.
 */
export async function* candidateKeys(
  backend: Backend,
  candidates: PruneCandidates,
  options?: CallOptions,
): AsyncGenerator<string> {
  if (candidates.keys) {
    yield* candidates.keys;
    return;
  }
  const { mark, parts = 0, count } = candidates;
  let seen = 0;
  for (let i = 0; i < parts; i++) {
    const key = candidatePartKey(mark!, i);
    let text: string;
    try {
      // Sized first: a part is read whole, so one too large is refused unread.
      const { size } = await backend.stat(key, options);
      if (size > MAX_PART_BYTES) {
        throw new FormatError(key, `a part of ${size} bytes (at most ${MAX_PART_BYTES})`);
      }
      text = new TextDecoder().decode(await backend.get(key, options));
    } catch (err) {
      if (hasCode(err, 'not-found')) {
        throw new FormatError(key, `part ${i} of the candidate list is missing`);
      }
      throw err;
    }
    const lines = text.split('\n');
    if (lines.pop() !== '') throw new FormatError(key, 'does not end with a newline');
    if (lines.length > PART_KEYS || (i < parts - 1 && lines.length !== PART_KEYS)) {
      throw new FormatError(
        key,
        `${lines.length} keys in a part (${i < parts - 1 ? 'exactly' : 'at most'} ${PART_KEYS})`,
      );
    }
    for (const line of lines) {
      if (!BLOB_KEY.test(line)) {
        throw new FormatError(key, `not a blob key: ${JSON.stringify(line.slice(0, 80))}`);
      }
    }
    seen += lines.length;
    if (seen > count) break;
    yield* lines;
  }
  if (seen !== count) {
    throw new FormatError(
      PRUNE_CANDIDATES_KEY,
      `the candidate list names ${count} keys, its parts hold ${seen}`,
    );
  }
}

/**
 * Writes a mark's candidate list, key by key (in key order): the parts as they fill,
 * then, at `finish`, `prune/candidates`, then removes the parts of earlier marks.
 */
export class CandidateWriter {
  private readonly mark = randomId().slice(0, 16);
  private count = 0;
  private parts = 0;
  private lines: string[] = [];

  constructor(
    private readonly backend: Backend,
    private readonly options?: CallOptions,
  ) {}

  /** Adds the next key; returns a promise when a part is being written. */
  add(key: string): Promise<void> | undefined {
    this.lines.push(key);
    this.count++;
    return this.lines.length === PART_KEYS ? this.flush() : undefined;
  }

  /**
   * Publishes the list of a mark that began at `time` (ISO 8601), or with no keys
   * removes the list instead. Resolves the list written, or undefined.
   */
  async finish(time: string): Promise<PruneCandidates | undefined> {
    if (this.lines.length > 0) await this.flush();
    if (this.count === 0) {
      await removeCandidates(this.backend, this.options);
      return undefined;
    }
    const candidates: PruneCandidates = {
      time,
      count: this.count,
      mark: this.mark,
      parts: this.parts,
    };
    // Named only now that every part is stored: a reader never finds a part missing.
    await this.backend.put(
      PRUNE_CANDIDATES_KEY,
      new TextEncoder().encode(`${JSON.stringify(candidates)}\n`),
      this.options,
    );
    await removeMarkParts(this.backend, this.mark, this.options);
    return candidates;
  }

  private async flush(): Promise<void> {
    const body = new TextEncoder().encode(`${this.lines.join('\n')}\n`);
    this.lines = [];
    await this.backend.put(candidatePartKey(this.mark, this.parts), body, this.options);
    this.parts++;
  }
}

/** Removes the candidate list, then every part (parts no list names are garbage). */
export async function removeCandidates(backend: Backend, options?: CallOptions): Promise<void> {
  await backend.delete(PRUNE_CANDIDATES_KEY, options);
  await removeMarkParts(backend, undefined, options);
}

/** Deletes the parts of every mark but `keep`. */
async function removeMarkParts(
  backend: Backend,
  keep: string | undefined,
  options?: CallOptions,
): Promise<void> {
  const doomed: string[] = [];
  for await (const info of backend.list(PRUNE_MARKS_PREFIX, options)) {
    if (keep === undefined || !info.key.startsWith(`${PRUNE_MARKS_PREFIX}${keep}/`))
      doomed.push(info.key);
  }
  for (const key of doomed) await backend.delete(key, options);
}
