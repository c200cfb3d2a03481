/**
 * The snapshot index: one object, `index/snapshots`, holding every snapshot record of
 * the repository, so that a reader that cannot list (a static web server, a CDN) finds
 * snapshots, `latest` and `tag:NAME` with a single GET.
 *
 * Plaintext (inside the usual blob envelope): a MessagePack map
 *   {v: 1, s: [[id (bin 32), record (bin)], ...]}
 * where each record is the exact plaintext of `snapshots/<id>`; readers verify that it
 * hashes to its id, so the index cannot alter a snapshot, only omit one.
 *
 * Writers that can list treat the listing as the truth and the index as derived: after
 * saving or deleting a snapshot they rebuild the index from a listing, then list again and
 * rebuild once more if another writer changed the set meanwhile.
 */
import { FormatError, IntegrityError } from '../core/errors.js';
import { idFromBytes, idToBytes, type ObjectId, sha256Hex } from '../core/ids.js';
import { isPlainObject } from '../manifest/fields.js';
import { pack, unpack } from '../manifest/msgpack.js';

/** Key of the index object. */
export const SNAPSHOT_INDEX_KEY = 'index/snapshots';
const INDEX_VERSION = 1;

/** Encodes the index from snapshot ids and their record plaintexts. */
export function encodeSnapshotIndex(
  records: ReadonlyArray<{ id: ObjectId; plaintext: Uint8Array }>,
): Uint8Array {
  const sorted = [...records].sort((a, b) => a.id.localeCompare(b.id));
  return pack({ v: INDEX_VERSION, s: sorted.map((r) => [idToBytes(r.id), r.plaintext]) });
}

/** Decodes and verifies an index read from `source`; `idOf` is the repository's id function. */
export function decodeSnapshotIndex(
  bytes: Uint8Array,
  source: string,
  idOf: (plaintext: Uint8Array) => ObjectId = sha256Hex,
): Array<{ id: ObjectId; plaintext: Uint8Array }> {
  const value = unpack(bytes, source);
  if (!isPlainObject(value) || value.v !== INDEX_VERSION || !Array.isArray(value.s)) {
    throw new FormatError(source, 'not a version 1 snapshot index');
  }
  return value.s.map((item: unknown, i: number) => {
    if (
      !Array.isArray(item) ||
      item.length !== 2 ||
      !(item[0] instanceof Uint8Array) ||
      !(item[1] instanceof Uint8Array)
    ) {
      throw new FormatError(source, `item ${i} is not [id, record]`);
    }
    const id = idFromBytes(item[0], source);
    const actual = idOf(item[1]);
    if (actual !== id)
      throw new IntegrityError(
        id,
        `${source}: the record of snapshot ${id} hashes to ${actual}`,
        actual,
      );
    return { id, plaintext: item[1] };
  });
}
