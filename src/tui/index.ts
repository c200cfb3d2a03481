/**
 * cairn's interactive terminal UI (`cairn tui`), built with ink and React on the
 * library API only.
 *
 *   app.tsx         the screens and the help overlay; follows terminal resizes
 *   run.tsx         `runTui`: alternate screen, render, wait for quit
 *   components/     SnapshotList, Browser (tree and compare), EntryRow, VirtualList,
 *                   RestoreDialog, ProgressBar, Preview, HelpScreen, Spinner, and
 *                   KeyProvider (the one keyboard subscription all screens share)
 *   hooks/          data loading in the background (snapshots, directories, diff,
 *                   preview, restore), key input (`useKeys`), terminal size
 *   model/          plain logic: selection marks, restore planning, listing merge and
 *                   cache, sorting, filtering, scrolling, preview decoding
 *   format.ts       sizes, times, modes and column fitting
 *
 * Principles: only visible rows are drawn; directories, diffs and previews load in the
 * background and yield to the event loop, so keys are never blocked; restore is the
 * same `restore` operation the CLI runs, with its events driving the progress bar.
 */
export { App, type AppProps } from './app.js';
export { KEY_MAP } from './components/HelpScreen.js';
export { runTui, type TuiOptions } from './run.js';
