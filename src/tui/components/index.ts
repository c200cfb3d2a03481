/**
 * The TUI's components. Screens (SnapshotList, Browser) own the keyboard while they
 * are on top, through `useKeys` and the shared KeyProvider; dialogs and panes
 * (RestoreDialog, Preview, HelpScreen) take it over while open. Rows are drawn by
 * VirtualList, which renders only the visible window.
 */
export * from './Breadcrumb.js';
export * from './Browser.js';
export * from './EntryRow.js';
export * from './HelpScreen.js';
export * from './KeyProvider.js';
export * from './Preview.js';
export * from './ProgressBar.js';
export * from './RestoreDialog.js';
export * from './SnapshotList.js';
export * from './Spinner.js';
export * from './TextField.js';
export * from './VirtualList.js';
