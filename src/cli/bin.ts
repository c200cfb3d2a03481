#!/usr/bin/env node
/** The `cairn` executable: runs the CLI and exits once stdout has drained. */
import { EXIT } from './context.js';
import { applyHeapSettings } from './heap.js';
import { main, stdoutFailure } from './main.js';
import { Output } from './output.js';
import { rawArguments } from './raw-args.js';

// File writes with fsync and parallel reads wait in libuv's thread pool (4 threads by
// default). libuv reads this variable when the pool starts, on first use, which is
// after this line: nothing above touches the file system asynchronously.
process.env.UV_THREADPOOL_SIZE ??= '16';
// Before any command allocates: a smaller young generation and a slower-growing old
// one, same speed (heap.ts).
applyHeapSettings();

/** How long an interrupted command waits for stdout's reader to take what is queued. */
const INTERRUPTED_DRAIN_MS = 1000;

main(rawArguments()).then((code) => {
  // A stderr that failed late has nothing more to say; the exit code below stands.
  process.stderr.on('error', () => {});
  // Stopped (Ctrl-C, SIGTERM): what is queued for stdout (the last events) gets a moment
  // to go out, not more: a reader that has stopped reading would hold the exit.
  if (code === EXIT.interrupted) {
    if (process.stdout.writableLength === 0) process.exit(code);
    setTimeout(() => process.exit(code), INTERRUPTED_DRAIN_MS);
    process.stdout.write('', () => process.exit(code));
    return;
  }
  // stdout failing after the command finished (its reader gone, a full disk): the
  // output was lost, which the exit code must say.
  process.stdout.write('', (err) => {
    const failed = err as NodeJS.ErrnoException | null | undefined;
    process.exit(failed ? stdoutFailure(failed, new Output(false, false)) : code);
  });
});
