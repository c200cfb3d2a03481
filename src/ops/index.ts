/**
 * Operations: backup, restore, diff, check, stats, sync, forget (retention), prune, tag,
 * rewrite and repair (which replace records: replacement.ts), tree walking; lock-guard
 * runs writers under a shared or exclusive lock. Plain async functions
 * that take a Repository and options, emit typed progress events (events.ts) through
 * `onEvent`, honour an AbortSignal, and never print.
 *
 * Internal helpers with worker threads: backup lists directories ahead on a scan thread
 * (dir-scanner.ts, scan-worker.ts) and restore writes files on a pool for local
 * repositories (restore-pool.ts, restore-worker.ts); both fall back to the calling
 * thread where the compiled worker scripts are missing.
 */
export * from './backup.js';
export * from './check.js';
export * from './diff.js';
export * from './events.js';
export * from './exclude.js';
export * from './forget.js';
export * from './local-chunks.js';
export * from './lock-guard.js';
export * from './program.js';
export * from './prune.js';
export * from './repair.js';
export * from './replacement.js';
export * from './restore.js';
export * from './restore-fs.js';
export * from './retention.js';
export * from './rewrite.js';
export * from './snapshot-path.js';
export * from './stats.js';
export * from './sync.js';
export * from './tag.js';
export * from './walk.js';
