/**
 * What prune keeps in the repository between runs (see docs/format.md, "Prune state"):
 *
 * - `prune/epoch`: a random id rewritten every time prune deletes blobs. Clients keep
 *   local knowledge of which blobs exist (the blob inventory); one opened under another
 *   epoch is discarded, because a blob it lists may be gone.
 * - `prune/candidates`: the blobs the last *mark* found unreferenced, and when. A later
 *   prune run deletes only those still unreferenced once the grace period has passed.
 *
 * Both are JSON, in plain objects (they hold only blob keys, which are object names
 * anyway, and times).
 */
import type { Backend, CallOptions } from '../backends/backend.js';
import { FormatError, hasCode } from '../core/errors.js';
import { randomId } from '../core/ids.js';

/** Key of the prune epoch. */
export const PRUNE_EPOCH_KEY = 'prune/epoch';
/** Key of the candidate list of the last mark. */
export const PRUNE_CANDIDATES_KEY = 'prune/candidates';

/** The epoch of a repository that was never pruned. */
export const INITIAL_EPOCH = '0';

/** The result of a prune mark. */
export interface PruneCandidates {
  /** When the mark listed the repository (ISO 8601). */
  time: string;
  /** Blob keys (`data/…`, `tree/…`) no snapshot referenced then. */
  keys: string[];
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
  const c = v as PruneCandidates;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.time !== 'string' ||
    !Number.isFinite(Date.parse(c.time)) ||
    !Array.isArray(c.keys) ||
    !c.keys.every(
      (k) => typeof k === 'string' && /^(data|tree)\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(k),
    )
  ) {
    throw new FormatError(PRUNE_CANDIDATES_KEY, 'not a candidate list {time, keys}');
  }
  return c;
}

/** Stores the candidates of a mark. */
export async function writeCandidates(
  backend: Backend,
  candidates: PruneCandidates,
  options?: CallOptions,
): Promise<void> {
  await backend.put(
    PRUNE_CANDIDATES_KEY,
    new TextEncoder().encode(`${JSON.stringify(candidates)}\n`),
    options,
  );
}
