#!/usr/bin/env node
import { EXIT } from './context.js';
/** The `cairn` executable: runs the CLI and exits once stdout has drained. */
import { applyHeapSettings } from './heap.js';
import { main } from './main.js';

// File writes with fsync and parallel reads wait in libuv's thread pool (4 threads by
// default). libuv reads this variable when the pool starts, on first use, which is
// after this line: nothing above touches the file system asynchronously.
process.env.UV_THREADPOOL_SIZE ??= '16';
// Before any command allocates: a smaller young generation and a slower-growing old
// one, same speed (heap.ts).
applyHeapSettings();

main(process.argv.slice(2)).then((code) => {
  // A reader that closed the pipe after the command finished: output was lost.
  process.stdout.write('', (err) =>
    process.exit(err && (err as NodeJS.ErrnoException).code === 'EPIPE' ? EXIT.brokenPipe : code),
  );
});
