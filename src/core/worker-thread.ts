/**
 * Starting the worker threads of cairn's pools (the chunk pool of backup, the restore
 * pool): finding the compiled worker script, and starting a thread with a small young
 * generation whose failure or unexpected exit is reported once as a BackendError.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BackendError } from './errors.js';

const scripts = new Map<string, URL | null>();

/**
 * Bytes of work a pool does on the calling thread before it starts worker threads: a
 * thread takes 100-150 ms here to load, as long as a whole small backup or restore
 * needs, so those start none.
 */
export const CALLING_THREAD_BUDGET = 32 * 1024 * 1024;

/**
 * The compiled worker script `name` beside the module at `moduleUrl` (its
 * `import.meta.url`), or undefined when it is missing: running from TypeScript sources,
 * as the unit tests do, where pools run their jobs on the calling thread instead.
 */
export function compiledWorker(name: string, moduleUrl: string): URL | undefined {
  const url = new URL(`./${name}`, moduleUrl);
  let found = scripts.get(url.href);
  if (found === undefined) {
    found = existsSync(fileURLToPath(url)) ? url : null;
    scripts.set(url.href, found);
  }
  return found ?? undefined;
}

/** How to start a pool's worker thread. */
export interface WorkerStart {
  /** Structured-cloneable setup, the worker's `workerData`. */
  workerData: unknown;
  /** Young-generation size in MiB (a pool's garbage is small and short-lived). */
  youngGenerationMb: number;
  /** What the thread is, for messages ("chunk worker thread"). */
  label: string;
  /** True once the pool is closing: an exit then is expected. */
  closing: () => boolean;
  /** Called when the thread fails or exits unexpectedly. */
  lost: (err: BackendError) => void;
}

/** Starts a worker thread on `script` (unref'd: it never keeps the process alive). */
export function startWorker(script: URL, options: WorkerStart): Worker {
  const worker = new Worker(script, {
    workerData: options.workerData,
    resourceLimits: { maxYoungGenerationSizeMb: options.youngGenerationMb },
  });
  worker.unref();
  worker.on('error', (err) =>
    options.lost(
      new BackendError(`${options.label} failed: ${err.message}`, {
        retryable: false,
        cause: err,
      }),
    ),
  );
  worker.on('exit', (code) => {
    if (!options.closing()) {
      options.lost(new BackendError(`${options.label} exited with code ${code}`));
    }
  });
  return worker;
}
