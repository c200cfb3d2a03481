/**
 * Snapshot records on the wire: one msgpack map, keys in this order:
 *   v 1, time (ISO 8601), host, user, paths [str], tags [str], tree (32-byte id),
 *   parent (32-byte id, optional), summary {files, dirs, bytes, new, changed,
 *   unchanged, blobs, added, errors, ms}, program.
 */
import { FormatError } from '../core/errors.js';
import { idToBytes } from '../core/ids.js';
import { FieldReader } from './fields.js';
import { pack, unpack } from './msgpack.js';
import type { Snapshot, SnapshotSummary } from './types.js';

/** Current snapshot format version. */
export const SNAPSHOT_VERSION = 1;

const SNAPSHOT_FIELDS = [
  'v',
  'time',
  'host',
  'user',
  'paths',
  'tags',
  'tree',
  'parent',
  'summary',
  'program',
];
const SUMMARY_FIELDS = [
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
];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Tags: printable, no spaces or commas (commas separate tags on the command line). */
export const TAG_PATTERN = /^[^\s,\x00-\x1f]{1,256}$/;

/** Encodes a snapshot record. */
export function encodeSnapshot(s: Snapshot): Uint8Array {
  const w: Record<string, unknown> = {
    v: SNAPSHOT_VERSION,
    time: s.time,
    host: s.hostname,
    user: s.username,
    paths: s.paths,
    tags: s.tags,
    tree: idToBytes(s.tree),
  };
  if (s.parent !== undefined) w.parent = idToBytes(s.parent);
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
  if (v !== SNAPSHOT_VERSION) throw new FormatError(source, `unsupported snapshot version ${v}`);
  const time = f.str('time', 64);
  if (!ISO_UTC.test(time) || Number.isNaN(Date.parse(time))) f.fail('time', `bad time ${time}`);
  const tags = f.strings('tags', 1000, 256);
  for (const t of tags) if (!TAG_PATTERN.test(t)) f.fail('tags', `bad tag ${JSON.stringify(t)}`);
  const snapshot: Snapshot = {
    time,
    hostname: f.str('host', 1024),
    username: f.str('user', 1024),
    paths: f.strings('paths', 100_000, 65_536),
    tags,
    tree: f.id('tree'),
    summary: decodeSummary(f.raw('summary'), source),
    program: f.str('program', 256),
  };
  if (f.has('parent')) snapshot.parent = f.id('parent');
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
