/**
 * Snapshot records: stored under `snapshots/<id>` where id is the SHA-256 of the
 * record's plaintext, so a record cannot be altered without changing its name.
 * Selectors pick snapshots the same way in every command: a full id or unique id
 * prefix, `latest`, or `tag:NAME` (the newest snapshot with that tag).
 */
import type { Backend } from '../backends/backend.js';
import { hasCode, IntegrityError, NotFoundError, UsageError } from '../core/errors.js';
import { type ObjectId, sha256Hex } from '../core/ids.js';
import { forEachConcurrent } from '../core/limit.js';
import { decodeSnapshot, encodeSnapshot } from '../manifest/snapshot-codec.js';
import type { Snapshot } from '../manifest/types.js';
import { openBlob, sealBlob } from './blob-format.js';
import { idOfKey, SNAPSHOTS_PREFIX, snapshotKey } from './layout.js';

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
}

/** Reads and writes snapshot records. */
export class SnapshotStore {
  constructor(private readonly backend: Backend) {}

  /** Stores a record and returns its id. This is the commit point of a backup. */
  async save(snapshot: Snapshot): Promise<ObjectId> {
    const plaintext = encodeSnapshot(snapshot);
    const id = sha256Hex(plaintext);
    await this.backend.put(snapshotKey(id), sealBlob(plaintext), { ifNotExists: true });
    return id;
  }

  /** Loads and verifies one record by full id. */
  async load(id: ObjectId, signal?: AbortSignal): Promise<Snapshot> {
    let stored: Uint8Array;
    try {
      stored = await this.backend.get(snapshotKey(id), { signal });
    } catch (err) {
      if (hasCode(err, 'not-found'))
        throw new NotFoundError(`snapshot ${id}`, `snapshot ${id} not found`);
      throw err;
    }
    const source = `snapshot ${id}`;
    const plaintext = openBlob(stored, source);
    const actual = sha256Hex(plaintext);
    if (actual !== id)
      throw new IntegrityError(id, `snapshot ${id} is corrupt: hashes to ${actual}`, actual);
    return decodeSnapshot(plaintext, source);
  }

  /** Ids of all stored snapshots (unordered). */
  async ids(signal?: AbortSignal): Promise<ObjectId[]> {
    const ids: ObjectId[] = [];
    for await (const info of this.backend.list(SNAPSHOTS_PREFIX, { signal })) {
      const id = idOfKey(info.key);
      if (id) ids.push(id);
    }
    return ids;
  }

  /** All snapshots matching `filter`, oldest first. */
  async list(filter: SnapshotFilter = {}, signal?: AbortSignal): Promise<SnapshotRef[]> {
    const ids = await this.ids(signal);
    const refs: SnapshotRef[] = [];
    await forEachConcurrent(ids, 16, async (id) => {
      const snapshot = await this.load(id, signal);
      if (matches(snapshot, filter)) refs.push({ id, snapshot });
    });
    return refs.sort(
      (a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id),
    );
  }

  /** Resolves a selector (id, id prefix, `latest`, `tag:NAME`) to one snapshot. */
  async resolve(
    selector: string,
    filter: SnapshotFilter = {},
    signal?: AbortSignal,
  ): Promise<SnapshotRef> {
    if (selector === 'latest' || selector.startsWith('tag:')) {
      const tags =
        selector === 'latest' ? filter.tags : [...(filter.tags ?? []), selector.slice(4)];
      if (selector.startsWith('tag:') && selector.length === 4)
        throw new UsageError('tag: needs a tag name');
      const all = await this.list({ ...filter, tags }, signal);
      const newest = all.at(-1);
      if (!newest) throw new NotFoundError(selector, `no snapshot matches ${selector}`);
      return newest;
    }
    if (!/^[0-9a-f]{1,64}$/.test(selector)) {
      throw new UsageError(
        `bad snapshot selector ${JSON.stringify(selector)}: use an id or id prefix, latest, or tag:NAME`,
      );
    }
    if (selector.length < 4 && selector.length !== 64) {
      throw new UsageError(
        `snapshot id prefix ${selector} is too short: give at least 4 hex digits`,
      );
    }
    const candidates = (await this.ids(signal)).filter((id) => id.startsWith(selector));
    if (candidates.length === 0)
      throw new NotFoundError(selector, `no snapshot id starts with ${selector}`);
    if (candidates.length > 1) {
      throw new UsageError(
        `snapshot id prefix ${selector} is ambiguous: ${candidates.length} snapshots match`,
      );
    }
    const id = candidates[0]!;
    return { id, snapshot: await this.load(id, signal) };
  }
}

function matches(s: Snapshot, f: SnapshotFilter): boolean {
  if (f.tags && !f.tags.every((t) => s.tags.includes(t))) return false;
  if (f.hostname !== undefined && s.hostname !== f.hostname) return false;
  if (f.paths) {
    const a = [...s.paths].sort();
    const b = [...f.paths].sort();
    if (a.length !== b.length || a.some((p, i) => p !== b[i])) return false;
  }
  return true;
}
