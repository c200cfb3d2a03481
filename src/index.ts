/**
 * cairn's public library API: everything the CLI and TUI use, re-exported by layer.
 *
 *   core      ids, errors with stable codes, cancellation and concurrency helpers
 *   chunker   FastCDC 2020 (bit-exact with fastcdc-rs v2020), buffer and stream APIs
 *   manifest  snapshot/tree types and their deterministic MessagePack codec
 *   backends  the Backend interface, memory/local (s3/http load lazily), wrappers
 *   repo      repository format, blob store, trees, snapshots, stat cache
 *   ops       backup, restore, diff, check, stats
 */
export * from './backends/index.js';
export * from './chunker/index.js';
export * from './core/index.js';
export * from './manifest/index.js';
export * from './ops/index.js';
export * from './repo/index.js';
