/**
 * Worker-thread entry of restore's pool (restore-pool.ts): runs restore jobs
 * (restore-jobs.ts) for the repository named in `workerData`, one at a time, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RestoreJobRunner } from './restore-jobs.js';
import type { RestoreWorkerSetup, ToRestoreWorker } from './restore-protocol.js';

const port = parentPort;
if (!port) throw new Error('restore-worker.js must run as a worker thread');
const runner = new RestoreJobRunner(workerData as RestoreWorkerSetup);
let queue: Promise<void> = Promise.resolve();
port.on('message', (job: ToRestoreWorker) => {
  queue = queue.then(() =>
    runner.run(job, (message, transfer) => port.postMessage(message, transfer)),
  );
});
