/**
 * The TUI's hooks. Loading hooks (snapshots, directory listings, diffs, previews,
 * restores) run their work in the background, cancel it when the component goes away,
 * and publish results at a bounded rate; `useKeys` delivers keys; `useTerminalSize`
 * follows resizes; `useLatestState` lets handlers read state set by earlier keys.
 */
export * from './use-diff.js';
export * from './use-directory.js';
export * from './use-keys.js';
export * from './use-latest-state.js';
export * from './use-preview.js';
export * from './use-restore.js';
export * from './use-snapshots.js';
export * from './use-terminal-size.js';
