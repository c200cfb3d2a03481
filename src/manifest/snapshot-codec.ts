/**
 * Snapshot records on the wire: one msgpack map, keys in this order:
 *   v (1, or 2 when `original` is present), time (ISO 8601), host, user, paths [str],
 *   tags [str], tree (32-byte id), parent (32-byte id, optional), original (32-byte id,
 *   optional), rewrites and retags (uint >= 1, optional, only with original), summary
 *   {files, dirs, bytes, new, changed, unchanged, blobs, added, errors, ms}, program.
 *
 * Both directions check the fields with `checkSnapshotFields` (snapshot-fields.ts), so
 * the encoder refuses exactly the records the decoder would refuse.
 */
import { FormatError } from '../core/errors.js';
import { idToBytes } from '../core/ids.js';
import { FieldReader } from './fields.js';
import { pack, unpack } from './msgpack.js';
import { checkSnapshotFields, refuseField, SNAPSHOT_LIMITS } from './snapshot-fields.js';
import type { Snapshot, SnapshotSummary } from './types.js';

/** Snapshot format version of records without `original`. */
export const SNAPSHOT_VERSION = 1;
/**
 * Version of records with `original` (written by `tag` and `rewrite`): version 1 plus
 * that field. Readers that do not know the field then refuse the record by its version,
 * as the format asks, and every other record stays readable by them.
 */
export const SNAPSHOT_VERSION_ORIGINAL = 2;

const SNAPSHOT_FIELDS = new Set([
  'v',
  'time',
  'host',
  'user',
  'paths',
  'tags',
  'tree',
  'parent',
  'original',
  'rewrites',
  'retags',
  'summary',
  'program',
]);
const SUMMARY_FIELDS = new Set([
  'files',
  'dirs',
  'bytes',
  'new',
  'changed',
  'unchanged',
  'blobs',
  'added',
  'errors',
  'ms',
]);

/** Encodes a snapshot record; a field `decodeSnapshot` would refuse is a UsageError. */
export function encodeSnapshot(s: Snapshot): Uint8Array {
  checkSnapshotFields(s, refuseField);
  return packSnapshotUnchecked(s);
}

/**
 * The wire map of `s`, packed without the checks: what a careless writer would store.
 * Tests use it to make records the reader must refuse; cairn itself never stores one.
 * @internal
 */
export function packSnapshotUnchecked(s: Snapshot): Uint8Array {
  const w: Record<string, unknown> = {
    v: s.original === undefined ? SNAPSHOT_VERSION : SNAPSHOT_VERSION_ORIGINAL,
    time: s.time,
    host: s.hostname,
    user: s.username,
    paths: s.paths,
    tags: s.tags,
    tree: idToBytes(s.tree),
  };
  if (s.parent !== undefined) w.parent = idToBytes(s.parent);
  if (s.original !== undefined) w.original = idToBytes(s.original);
  if (s.rewrites !== undefined) w.rewrites = s.rewrites;
  if (s.retags !== undefined) w.retags = s.retags;
  const m = s.summary;
  w.summary = {
    files: m.files,
    dirs: m.dirs,
    bytes: m.bytes,
    new: m.filesNew,
    changed: m.filesChanged,
    unchanged: m.filesUnchanged,
    blobs: m.blobsAdded,
    added: m.bytesAdded,
    errors: m.errors,
    ms: m.durationMs,
  };
  w.program = s.program;
  return pack(w);
}

/** Decodes and validates a snapshot record read from `source`. */
export function decodeSnapshot(bytes: Uint8Array, source: string): Snapshot {
  const f = new FieldReader(unpack(bytes, source), source, SNAPSHOT_FIELDS);
  const v = f.int('v');
  if (v !== SNAPSHOT_VERSION && v !== SNAPSHOT_VERSION_ORIGINAL) {
    throw new FormatError(source, `unsupported snapshot version ${v}`);
  }
  // The reader checks types (with the limits bounding what is examined); the shared
  // checks decide what a valid record is.
  const L = SNAPSHOT_LIMITS;
  const snapshot: Snapshot = {
    time: f.str('time', L.time),
    hostname: f.str('host', L.host),
    username: f.str('user', L.user),
    paths: f.strings('paths', L.paths, L.path),
    tags: f.strings('tags', L.tags, L.tag),
    tree: f.id('tree'),
    summary: decodeSummary(f.raw('summary'), source),
    program: f.str('program', L.program),
  };
  if (f.has('parent')) snapshot.parent = f.id('parent');
  if (f.has('original')) {
    if (v !== SNAPSHOT_VERSION_ORIGINAL) f.fail('original', `not part of version ${v} records`);
    snapshot.original = f.id('original');
  } else if (v === SNAPSHOT_VERSION_ORIGINAL) f.fail('original', 'missing');
  if (f.has('rewrites')) snapshot.rewrites = f.uint('rewrites');
  if (f.has('retags')) snapshot.retags = f.uint('retags');
  checkSnapshotFields(snapshot, (field, problem) => f.fail(field, problem));
  return snapshot;
}

function decodeSummary(value: unknown, source: string): SnapshotSummary {
  const f = new FieldReader(value, `${source} summary`, SUMMARY_FIELDS);
  return {
    files: f.uint('files'),
    dirs: f.uint('dirs'),
    bytes: f.uint('bytes'),
    filesNew: f.uint('new'),
    filesChanged: f.uint('changed'),
    filesUnchanged: f.uint('unchanged'),
    blobsAdded: f.uint('blobs'),
    bytesAdded: f.uint('added'),
    errors: f.uint('errors'),
    durationMs: f.uint('ms'),
  };
}
