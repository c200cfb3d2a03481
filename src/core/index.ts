/**
 * Core: the lowest layer. Content ids, errors with stable codes, cancellation and
 * concurrency helpers. Imports nothing from the rest of cairn.
 */
export * from './abort.js';
export * from './errors.js';
export * from './ids.js';
export * from './limit.js';
