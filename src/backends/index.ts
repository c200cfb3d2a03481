/**
 * Backends: where repository objects are stored.
 *
 * `Backend` (backend.ts) is a flat key/value store with five verbs and a written
 * contract. Concrete backends: MemoryBackend (tests, `memory:`), LocalBackend (a
 * directory; atomic, fsynced writes), and S3/HTTP, which `openBackend` loads on demand
 * from a location string and which are deliberately not re-exported here.
 *
 * Wrappers implement the same interface around another backend and stack freely, e.g.
 * `new RetryBackend(new LimitBackend(base, { concurrency: 8 }))`:
 * RetryBackend (backoff on retryable errors), LimitBackend (concurrency, requests/s,
 * bytes/s), ReadOnlyBackend, CountingBackend (per-verb totals), FaultyBackend (seeded
 * fault injection for tests).
 *
 * Local repositories are also written directly from worker threads (local-direct.ts),
 * made durable in group commits (group-commit.ts) through `syncfs` (syncfs.ts).
 */
export * from './backend.js';
export * from './counting.js';
export * from './faulty.js';
export * from './forwarding.js';
export * from './fs-errors.js';
export * from './group-commit.js';
export * from './keys.js';
export * from './lazy.js';
export * from './limit.js';
export * from './local.js';
export * from './local-direct.js';
export * from './memory.js';
export * from './open.js';
export * from './prng.js';
export * from './range.js';
export * from './readonly.js';
export * from './retry.js';
export * from './syncfs.js';
export * from './token-bucket.js';
export * from './verbs.js';
