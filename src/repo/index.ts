/**
 * Repository layer: the on-backend format (config, blob envelope, key layout), the
 * content-addressed blob store, directory trees, snapshot records, and local caches
 * (the stat cache of backup, the per-remote blob inventory, the disk-backed sets of
 * check and prune: sorted run files, and LevelDB where lookups interleave additions),
 * locks and prune state, and the object codec: zstd compression
 * (native when the optional package was built, else WebAssembly; with a cheap guess
 * that skips content that looks random), AES-256-GCM encryption, keyed ids and
 * password key slots.
 * See docs/format.md for the byte-level description.
 */
export * from './blob-format.js';
export * from './blob-store.js';
export * from './cache-dir.js';
export * from './chunk-pool.js';
export * from './codec.js';
export * from './codec-setup.js';
export * from './compressibility.js';
export * from './config.js';
export * from './crypto.js';
export * from './disk-set.js';
export * from './external-sort-set.js';
export * from './inventory.js';
export * from './key-slots.js';
export * from './known-repos.js';
export * from './layout.js';
export * from './locks.js';
export * from './lru.js';
export * from './presets.js';
export * from './prune-state.js';
export * from './repository.js';
export * from './snapshot-index.js';
export * from './snapshots.js';
export * from './stat-cache.js';
export * from './tree-store.js';
export * from './zstd.js';
export type * from './zstd-engine.js';
