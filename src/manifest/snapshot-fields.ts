/**
 * The rules for a snapshot record's fields, in one place. The codec checks them when it
 * decodes a record (a bad record is a FormatError) and before it encodes one (a bad
 * value is a UsageError), so cairn never writes a record it would refuse to read: one
 * such record would make `snapshots`, `forget` and every later backup fail. Callers that
 * take these values from people (the CLI, `backup()`) check them early with the same
 * functions, before anything is stored.
 */
import { UsageError } from '../core/errors.js';
import { isObjectId } from '../core/ids.js';
import type { Snapshot, SnapshotSummary } from './types.js';

/** Longest strings (in UTF-16 code units, as JS counts) and longest arrays of a record. */
export const SNAPSHOT_LIMITS = {
  time: 64,
  host: 1024,
  user: 1024,
  paths: 100_000,
  path: 65_536,
  tags: 1000,
  tag: 256,
  program: 256,
} as const;

/** Tags: printable, no spaces or commas (commas separate tags on the command line). */
export const TAG_PATTERN = /^[^\s,\x00-\x1f]{1,256}$/;

/** TAG_PATTERN in words, for messages and docs. */
export const TAG_RULE = '1 to 256 characters, with no whitespace, comma or control character';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Summary fields by their name on the wire. */
const SUMMARY_WIRE: ReadonlyArray<[string, keyof SnapshotSummary]> = [
  ['files', 'files'],
  ['dirs', 'dirs'],
  ['bytes', 'bytes'],
  ['new', 'filesNew'],
  ['changed', 'filesChanged'],
  ['unchanged', 'filesUnchanged'],
  ['blobs', 'blobsAdded'],
  ['added', 'bytesAdded'],
  ['errors', 'errors'],
  ['ms', 'durationMs'],
];

/** Reports a problem with a field (named as on the wire) by throwing. */
export type FieldFail = (field: string, problem: string) => never;

/** For values a caller gave: a UsageError naming the field. */
export const refuseField: FieldFail = (field, problem) => {
  throw new UsageError(`snapshot field ${field}: ${problem}`);
};

/** A value quoted for a message, shortened when long (a 1 MB hostname must not fill a terminal). */
export function quoteValue(value: string): string {
  const quoted = JSON.stringify(value);
  if (quoted.length <= 42) return quoted;
  return `${quoted.slice(0, 40)}…" (${value.length} characters)`;
}

/** Checks a whole record: what `decodeSnapshot` accepts, and nothing else. */
export function checkSnapshotFields(s: Snapshot, fail: FieldFail): void {
  checkTime(s.time, fail);
  checkText('host', s.hostname, fail);
  checkText('user', s.username, fail);
  checkPaths(s.paths, fail);
  checkTags(s.tags, fail);
  checkId('tree', s.tree, fail);
  if (s.parent !== undefined) checkId('parent', s.parent, fail);
  if (s.original !== undefined) checkId('original', s.original, fail);
  if (s.rewrites !== undefined) checkRank('rewrites', s.rewrites, s, fail);
  if (s.retags !== undefined) checkRank('retags', s.retags, s, fail);
  checkSummary(s.summary, fail);
  checkText('program', s.program, fail);
}

/**
 * A replacement's `rewrites` or `retags`: a whole number from 1 (0 is left out, so a
 * record has one encoding), only beside `original`.
 */
function checkRank(
  field: 'rewrites' | 'retags',
  value: number,
  s: Snapshot,
  fail: FieldFail,
): void {
  if (s.original === undefined) fail(field, 'present without original');
  else if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    fail(field, `must be a whole number from 1, got ${String(value)}`);
  }
}

/** Tags: at most SNAPSHOT_LIMITS.tags of them, each matching TAG_PATTERN. */
export function checkTags(tags: readonly string[], fail: FieldFail): void {
  checkArray('tags', tags, SNAPSHOT_LIMITS.tags, fail);
  for (const t of tags) {
    if (typeof t !== 'string' || !TAG_PATTERN.test(t)) {
      const shown = typeof t === 'string' ? quoteValue(t) : String(t);
      fail('tags', `bad tag ${shown}: a tag is ${TAG_RULE}`);
    }
  }
}

/** How a snapshot of standard input records its path: `stdin:` and the file's name. */
export const STDIN_PATH_PREFIX = 'stdin:';

/** The recorded (absolute) source paths. */
export function checkPaths(paths: readonly string[], fail: FieldFail): void {
  checkArray('paths', paths, SNAPSHOT_LIMITS.paths, fail);
  paths.forEach((p, i) => {
    if (typeof p !== 'string') fail(`paths[${i}]`, 'not a string');
    if (p.length > SNAPSHOT_LIMITS.path) {
      fail(`paths[${i}]`, `longer than ${SNAPSHOT_LIMITS.path} characters: ${quoteValue(p)}`);
    }
  });
}

/** A free-text field: any string up to its limit. */
export function checkText(
  field: 'host' | 'user' | 'program',
  value: string,
  fail: FieldFail,
): void {
  if (typeof value !== 'string') fail(field, 'not a string');
  const max = SNAPSHOT_LIMITS[field];
  if (value.length > max) fail(field, `longer than ${max} characters: ${quoteValue(value)}`);
}

function checkTime(time: string, fail: FieldFail): void {
  // The pattern bounds the length well below SNAPSHOT_LIMITS.time.
  if (typeof time !== 'string' || !ISO_UTC.test(time) || Number.isNaN(Date.parse(time))) {
    fail('time', `bad time ${typeof time === 'string' ? quoteValue(time) : String(time)}`);
  }
}

function checkArray(field: string, value: readonly unknown[], max: number, fail: FieldFail): void {
  if (!Array.isArray(value)) fail(field, 'not an array');
  if (value.length > max) fail(field, `more than ${max} items`);
}

function checkId(field: string, id: string, fail: FieldFail): void {
  if (!isObjectId(id)) fail(field, `not a 64-digit lowercase hex id: ${quoteValue(String(id))}`);
}

function checkSummary(summary: SnapshotSummary, fail: FieldFail): void {
  if (typeof summary !== 'object' || summary === null) fail('summary', 'not a map');
  for (const [wire, key] of SUMMARY_WIRE) {
    const v = summary[key];
    if (!Number.isSafeInteger(v) || v < 0) {
      fail(
        `summary ${wire}`,
        `${String(v)} is not a whole number in 0..${Number.MAX_SAFE_INTEGER}`,
      );
    }
  }
}
