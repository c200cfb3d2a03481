/**
 * Filtering the snapshot list by typed text. Words are ANDed; each is `tag:NAME`,
 * `host:NAME`, or plain text found in the id, host, user, tags or paths. Matching is
 * case-insensitive and by substring, so a few letters are enough.
 */
import { orderSnapshots, type SnapshotRef } from '../../repo/snapshots.js';

/** True when `ref` matches every word of `filter`. */
export function matchesSnapshot(ref: SnapshotRef, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const s = ref.snapshot;
  return words.every((word) => {
    if (word.startsWith('tag:')) {
      const tag = word.slice(4);
      return s.tags.some((t) => t.toLowerCase().includes(tag));
    }
    if (word.startsWith('host:')) return s.hostname.toLowerCase().includes(word.slice(5));
    return [ref.id, s.hostname, s.username, ...s.tags, ...s.paths].some((field) =>
      field.toLowerCase().includes(word),
    );
  });
}

/** The snapshots matching `filter`, newest first. */
export function filterSnapshots(refs: readonly SnapshotRef[], filter: string): SnapshotRef[] {
  return orderSnapshots(refs.filter((r) => matchesSnapshot(r, filter))).reverse();
}
