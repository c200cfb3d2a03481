/**
 * Snapshot records: stored under `snapshots/<id>` where id is the repository's id of
 * the record's plaintext (SHA-256, or HMAC-SHA256 when encrypted), so a record cannot be altered without changing its name.
 * Selectors pick snapshots the same way in every command: a full id or unique id
 * prefix, `latest`, or `tag:NAME` (the newest snapshot with that tag).
 *
 * Where the backend cannot list (a static web server), snapshots are found through the
 * snapshot index (snapshot-index.ts), which every writer keeps up to date.
 */
import type { Backend } from '../backends/backend.js';
import { shareSignal } from '../core/abort.js';
import {
  type CairnError,
  hasCode,
  IntegrityError,
  NotFoundError,
  UsageError,
} from '../core/errors.js';
import type { ObjectId } from '../core/ids.js';
import { forEachConcurrent, mapConcurrent } from '../core/limit.js';
import { decodeSnapshot, encodeSnapshot } from '../manifest/snapshot-codec.js';
import type { Snapshot } from '../manifest/types.js';
import { type ObjectCodec, PLAIN_CODEC } from './codec.js';
import { idOfKey, SNAPSHOTS_PREFIX, snapshotKey } from './layout.js';
import { decodeSnapshotIndex, encodeSnapshotIndex, SNAPSHOT_INDEX_KEY } from './snapshot-index.js';

/** A snapshot record with its id. */
export interface SnapshotRef {
  id: ObjectId;
  snapshot: Snapshot;
}

/** Filters for listing snapshots. */
export interface SnapshotFilter {
  /** Keep snapshots having all these tags. */
  tags?: string[];
  hostname?: string;
  /** Keep snapshots whose paths equal these (order-insensitive). */
  paths?: string[];
  /**
   * Keep snapshots whose paths include each of these (`--path`); a trailing `/` on
   * either side does not matter.
   */
  withPaths?: string[];
}

/** The largest snapshot index accepted (it holds every record of the repository). */
const INDEX_MAX_BYTES = 1024 * 1024 * 1024;

/** Reads and writes snapshot records. */
export class SnapshotStore {
  /** Records from the snapshot index, for backends that cannot list. */
  private indexCache: Map<ObjectId, Snapshot> | undefined;
  /** Records of the index that do not decode, with why (see `list`). */
  private readonly indexUnreadable = new Map<ObjectId, CairnError>();

  /**
   * @param backend where the records are stored
   * @param codec ids, sealing and opening (default: plain SHA-256 ids)
   */
  constructor(
    private readonly backend: Backend,
    readonly codec: ObjectCodec = PLAIN_CODEC,
  ) {}

  /**
   * Stores a record and returns its id. Writing `snapshots/<id>` is the commit point of
   * a backup; the index is brought up to date afterwards.
   */
  async save(snapshot: Snapshot): Promise<ObjectId> {
    const id = await this.write(snapshot);
    await this.rebuildIndex();
    return id;
  }

  /** The id `snapshot` has (or would have) once stored. */
  idOfRecord(snapshot: Snapshot): ObjectId {
    return this.codec.idOf(encodeSnapshot(snapshot));
  }

  /**
   * Stores a record and returns its id, leaving the index to the caller (`rebuildIndex`
   * once after writing several). Storing a record that is already there changes nothing.
   */
  async write(snapshot: Snapshot, signal?: AbortSignal): Promise<ObjectId> {
    const plaintext = encodeSnapshot(snapshot);
    const id = this.codec.idOf(plaintext);
    await this.backend.put(snapshotKey(id), await this.codec.seal(plaintext), {
      ifNotExists: true,
      ...(signal ? { signal } : {}),
    });
    return id;
  }

  /**
   * Rewrites `index/snapshots` from a listing (see snapshot-index.ts). Repeats if the
   * set of snapshots changed while it was writing (a concurrent backup or forget).
   */
  async rebuildIndex(signal?: AbortSignal): Promise<void> {
    if (!this.backend.capabilities.listable || !this.backend.capabilities.writable) return;
    shareSignal(signal); // up to 16 loads at once
    const known = await this.indexedPlaintexts(signal);
    for (let attempt = 0; attempt < 3; attempt++) {
      const ids = (await this.listedIds(signal)).sort();
      const records: Array<{ id: ObjectId; plaintext: Uint8Array }> = [];
      const load = async (id: ObjectId) => {
        try {
          return { id, plaintext: known.get(id) ?? (await this.loadPlaintext(id, signal)) };
        } catch (err) {
          // Forgotten since the listing: the check below sees the set changed and repeats.
          if (hasCode(err, 'not-found')) return undefined;
          throw err;
        }
      };
      for await (const r of mapConcurrent(ids, 16, load)) {
        if (!r) continue;
        known.set(r.id, r.plaintext);
        records.push(r);
      }
      await this.backend.put(
        SNAPSHOT_INDEX_KEY,
        await this.codec.seal(encodeSnapshotIndex(records)),
        { signal },
      );
      const after = (await this.listedIds(signal)).sort();
      if (after.length === ids.length && after.every((id, i) => id === ids[i])) return;
    }
  }

  /** The records in the current index (an unreadable or missing index counts as empty). */
  private async indexedPlaintexts(signal?: AbortSignal): Promise<Map<ObjectId, Uint8Array>> {
    const map = new Map<ObjectId, Uint8Array>();
    try {
      const stored = await this.backend.get(SNAPSHOT_INDEX_KEY, { signal });
      const opened = await this.codec.open(stored, SNAPSHOT_INDEX_KEY, INDEX_MAX_BYTES);
      for (const r of decodeSnapshotIndex(opened, SNAPSHOT_INDEX_KEY, this.idOf)) {
        map.set(r.id, r.plaintext);
      }
    } catch (err) {
      if (hasCode(err, 'aborted') || hasCode(err, 'backend')) throw err;
      // missing or damaged: rebuilt from the records themselves
    }
    return map;
  }

  private readonly idOf = (plaintext: Uint8Array): ObjectId => this.codec.idOf(plaintext);

  /** Loads and verifies one record by full id. */
  async load(id: ObjectId, signal?: AbortSignal): Promise<Snapshot> {
    const indexed = this.indexCache?.get(id);
    if (indexed) return indexed;
    const bad = this.indexUnreadable.get(id);
    if (bad) throw bad;
    return decodeSnapshot(await this.loadPlaintext(id, signal), `snapshot ${id}`);
  }

  private async loadPlaintext(id: ObjectId, signal?: AbortSignal): Promise<Uint8Array> {
    let stored: Uint8Array;
    try {
      stored = await this.backend.get(snapshotKey(id), { signal });
    } catch (err) {
      if (hasCode(err, 'not-found')) {
        throw new NotFoundError(`snapshot ${id}`, `snapshot ${id} not found`);
      }
      throw err;
    }
    const source = `snapshot ${id}`;
    const plaintext = await this.codec.open(stored, source);
    const actual = this.codec.idOf(plaintext);
    if (actual !== id) {
      throw new IntegrityError(id, `snapshot ${id} is corrupt: hashes to ${actual}`, actual);
    }
    return plaintext;
  }

  /**
   * Ids of all stored snapshots (unordered): from a listing where the backend can list,
   * else from the snapshot index.
   */
  async ids(signal?: AbortSignal): Promise<ObjectId[]> {
    if (this.backend.capabilities.listable) return this.listedIds(signal);
    const readable = await this.readIndex(signal);
    return [...readable.keys(), ...this.indexUnreadable.keys()];
  }

  private async listedIds(signal?: AbortSignal): Promise<ObjectId[]> {
    const ids: ObjectId[] = [];
    for await (const info of this.backend.list(SNAPSHOTS_PREFIX, { signal })) {
      const id = idOfKey(info.key);
      // Only `snapshots/<id>` is a record; anything deeper (a stray copy) is not.
      if (id && info.key === snapshotKey(id)) ids.push(id);
    }
    return ids;
  }

  /** Reads `index/snapshots` (once per store) and keeps its verified records. */
  private async readIndex(signal?: AbortSignal): Promise<Map<ObjectId, Snapshot>> {
    if (this.indexCache) return this.indexCache;
    let stored: Uint8Array;
    try {
      stored = await this.backend.get(SNAPSHOT_INDEX_KEY, { signal });
    } catch (err) {
      if (hasCode(err, 'not-found')) {
        throw new NotFoundError(
          SNAPSHOT_INDEX_KEY,
          `${this.backend.location} cannot be listed and has no snapshot index (${SNAPSHOT_INDEX_KEY}): publish every file of the repository, including index/`,
        );
      }
      throw err;
    }
    const records = decodeSnapshotIndex(
      await this.codec.open(stored, SNAPSHOT_INDEX_KEY, INDEX_MAX_BYTES),
      SNAPSHOT_INDEX_KEY,
      this.idOf,
    );
    const map = new Map<ObjectId, Snapshot>();
    for (const r of records) {
      try {
        map.set(r.id, decodeSnapshot(r.plaintext, `snapshot ${r.id} (in ${SNAPSHOT_INDEX_KEY})`));
      } catch (err) {
        // One bad record: `load` rejects with its error; the others stay readable.
        if (!hasCode(err, 'format')) throw err;
        this.indexUnreadable.set(r.id, err as CairnError);
      }
    }
    this.indexCache = map;
    return map;
  }

  /**
   * All snapshots matching `filter`, oldest first. A record that cannot be read (corrupt,
   * or breaking the format's rules) rejects the whole listing, unless `onUnreadable` is
   * given: then it is reported there and left out. Only callers for which a missing
   * snapshot is harmless may pass it (a listing, a parent search); never one that
   * decides what to keep or delete (forget, prune).
   */
  async list(
    filter: SnapshotFilter = {},
    signal?: AbortSignal,
    onUnreadable?: (id: ObjectId, err: CairnError) => void,
  ): Promise<SnapshotRef[]> {
    const ids = await this.ids(signal);
    shareSignal(signal); // up to 16 loads at once
    const refs: SnapshotRef[] = [];
    await forEachConcurrent(ids, 16, async (id) => {
      let snapshot: Snapshot;
      try {
        snapshot = await this.load(id, signal);
      } catch (err) {
        // Forgotten between the listing and the read (a concurrent forget): not there.
        if (hasCode(err, 'not-found')) return;
        if (onUnreadable && (hasCode(err, 'format') || hasCode(err, 'integrity'))) {
          onUnreadable(id, err as CairnError);
          return;
        }
        throw err;
      }
      if (matches(snapshot, filter)) refs.push({ id, snapshot });
    });
    return orderSnapshots(refs);
  }

  /**
   * Resolves a selector (id, id prefix, `latest`, `tag:NAME`) to one snapshot. With
   * `onUnreadable`, `latest` and `tag:` are the newest of the records that can be read,
   * the others reported there (see `list`): one damaged record must not stop a restore.
   */
  async resolve(
    selector: string,
    filter: SnapshotFilter = {},
    signal?: AbortSignal,
    onUnreadable?: (id: ObjectId, err: CairnError) => void,
  ): Promise<SnapshotRef> {
    if (selector === 'latest' || selector.startsWith('tag:')) {
      if (selector === 'tag:') throw new UsageError('tag: needs a tag name');
      const tags =
        selector === 'latest' ? filter.tags : [...(filter.tags ?? []), selector.slice(4)];
      const all = await this.list({ ...filter, tags }, signal, onUnreadable);
      const newest = all.at(-1);
      if (!newest) {
        const among = describeFilter(filter);
        throw new NotFoundError(
          selector,
          `no snapshot matches ${selector}${among ? ` among those with ${among}` : ''}`,
        );
      }
      return newest;
    }
    if (!/^[0-9a-f]{1,64}$/.test(selector)) {
      throw new UsageError(
        `bad snapshot selector ${JSON.stringify(selector)}: use an id or id prefix, latest, or tag:NAME`,
      );
    }
    if (selector.length === 64)
      return { id: selector, snapshot: await this.load(selector, signal) };
    const id = idByPrefix(selector, await this.ids(signal));
    return { id, snapshot: await this.load(id, signal) };
  }
}

/**
 * Sorts `refs` oldest first, in place, and returns them. Records of the same time
 * (`tag` and `rewrite` write a replacement with the time of the record it replaces) are
 * ordered by `rewrites`, then `retags`, then id: `latest`, the newest of a retention
 * group and the parent of the next backup are then the last rewrite, whatever was
 * tagged since (the original `rewrite` kept, tagged twice, stays older), and a tagged
 * record is newer than the one it replaced (left by an interrupted `tag`), also when
 * the records between them are gone.
 */
export function orderSnapshots<T extends SnapshotRef>(refs: T[]): T[] {
  return refs.sort(
    (a, b) =>
      a.snapshot.time.localeCompare(b.snapshot.time) ||
      rewritesOf(a.snapshot) - rewritesOf(b.snapshot) ||
      retagsOf(a.snapshot) - retagsOf(b.snapshot) ||
      a.id.localeCompare(b.id),
  );
}

function rewritesOf(s: Snapshot): number {
  return s.rewrites ?? 0;
}

function retagsOf(s: Snapshot): number {
  if (s.original === undefined) return 0;
  // A replacement written before these fields existed was a tag's.
  return s.retags ?? (s.rewrites === undefined ? 1 : 0);
}

/** `s` without the fields that make a record a replacement (`original`, its rank). */
export function withoutRank(s: Snapshot): Snapshot {
  const { original: _original, rewrites: _rewrites, retags: _retags, ...rest } = s;
  return rest;
}

/** The fields that make a copy of `replaced` (stored as `id`) with other tags replace it. */
export function retagging(
  id: ObjectId,
  replaced: Snapshot,
): Pick<Snapshot, 'original' | 'rewrites' | 'retags'> {
  const rewrites = rewritesOf(replaced);
  return { original: id, ...(rewrites > 0 ? { rewrites } : {}), retags: retagsOf(replaced) + 1 };
}

/**
 * The fields that make a rewritten copy of the record stored as `id`, with root `tree`,
 * replace it: `rewrites` one above the highest among `sameTime`, the records of its
 * time. A record there that already is that rewrite (left by a rewrite stopped before
 * its `--forget`) gives its own, so running the rewrite again writes the same record.
 */
export function rewriting(
  id: ObjectId,
  tree: ObjectId,
  sameTime: Iterable<Snapshot>,
): Pick<Snapshot, 'original' | 'rewrites'> {
  let highest = 0;
  for (const s of sameTime) {
    if (s.original === id && s.tree === tree && s.rewrites !== undefined) {
      return { original: id, rewrites: s.rewrites };
    }
    highest = Math.max(highest, rewritesOf(s));
  }
  return { original: id, rewrites: highest + 1 };
}

/**
 * The one id among `ids` that `selector` (a full id, or a prefix of at least 4 hex
 * digits) names, without reading any record.
 */
export function idByPrefix(selector: string, ids: readonly ObjectId[]): ObjectId {
  if (!/^[0-9a-f]{1,64}$/.test(selector)) {
    throw new UsageError(
      `${JSON.stringify(selector)} is not a snapshot id or id prefix (at least 4 hex digits)`,
    );
  }
  if (selector.length < 4) {
    throw new UsageError(`snapshot id prefix ${selector} is too short: give at least 4 hex digits`);
  }
  const candidates = ids.filter((id) => id.startsWith(selector));
  if (candidates.length === 0) {
    throw new NotFoundError(selector, `no snapshot id starts with ${selector}`);
  }
  if (candidates.length > 1) {
    throw new UsageError(
      `snapshot id prefix ${selector} is ambiguous: ${candidates.length} snapshots match`,
    );
  }
  return candidates[0]!;
}

function matches(s: Snapshot, f: SnapshotFilter): boolean {
  if (f.tags && !f.tags.every((t) => s.tags.includes(t))) return false;
  if (f.hostname !== undefined && s.hostname !== f.hostname) return false;
  if (f.paths) {
    const a = [...s.paths].sort();
    const b = [...f.paths].sort();
    if (a.length !== b.length || a.some((p, i) => p !== b[i])) return false;
  }
  if (f.withPaths) {
    const have = new Set(s.paths.map(withoutEndSlash));
    if (!f.withPaths.every((p) => have.has(withoutEndSlash(p)))) return false;
  }
  return true;
}

/** `path` without a trailing `/` (but `/` itself). */
function withoutEndSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** What `filter` asks for, for messages: `host web1, tags a,b, paths /srv` ('' for none). */
export function describeFilter(filter: SnapshotFilter): string {
  const parts: string[] = [];
  if (filter.hostname !== undefined) parts.push(`host ${JSON.stringify(filter.hostname)}`);
  if (filter.tags?.length) parts.push(`tags ${filter.tags.join(',')}`);
  const paths = [...(filter.paths ?? []), ...(filter.withPaths ?? [])];
  if (paths.length > 0) parts.push(`paths ${paths.map((p) => JSON.stringify(p)).join(' ')}`);
  return parts.join(', ');
}
