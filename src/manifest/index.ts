/**
 * Manifests: the snapshot data model and its deterministic MessagePack codec.
 *
 * A snapshot record points at a root tree node. A tree node holds one directory's
 * entries sorted by name; a large directory is split into pages (leaves) at
 * content-defined boundaries and joined by index nodes, so any directory size works in
 * bounded memory and a one-entry change rewrites one page. Nodes are stored
 * content-addressed, so unchanged subtrees are shared between snapshots.
 *
 * Entries carry a file's metadata with it: mode, owner, mtime, and extended attributes
 * (xattr-codec.ts).
 *
 * Every decoder treats its input as hostile: types, ranges, names and order are checked
 * and any problem is a FormatError naming the object.
 */
export * from './entry-codec.js';
export * from './names.js';
export * from './paging.js';
export * from './snapshot-codec.js';
export * from './snapshot-fields.js';
export * from './tree-codec.js';
export type * from './types.js';
export * from './xattr-codec.js';
