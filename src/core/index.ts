/**
 * Core: the lowest layer. Content ids, errors with stable codes, cancellation and
 * concurrency helpers, file names and paths as the file system sees them (exact
 * bytes, any length), and extended attributes (through cairn's native module,
 * native/xattr.c). Imports nothing from the rest of cairn.
 */
export * from './abort.js';
export * from './deep-path.js';
export * from './errors.js';
export * from './fs-names.js';
export * from './ids.js';
export * from './limit.js';
export * from './process.js';
export * from './worker-thread.js';
export * from './xattrs.js';
export * from './zeros.js';
