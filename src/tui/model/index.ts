/**
 * The TUI's plain logic, free of React and ink: snapshot paths, the selection (marks
 * with signed totals), turning a selection into restore includes, directory listings
 * (merged for compare) and their cache, sorting and filtering, scrolling windows,
 * pacing long loops, and preview decoding.
 */
export * from './arrange.js';
export * from './items.js';
export * from './listing.js';
export * from './pace.js';
export * from './paths.js';
export * from './preview.js';
export * from './restore-plan.js';
export * from './scroll.js';
export * from './selection.js';
export * from './snapshot-filter.js';
