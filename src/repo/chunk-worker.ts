/**
 * Worker-thread entry of the chunk pool (chunk-pool.ts): serves chunk jobs with the
 * repository's chunker parameters and codec from `workerData`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ChunkWorkerSetup, FromWorker } from './chunk-protocol.js';
import { serveChunkJobs } from './chunk-serve.js';

const port = parentPort;
if (!port) throw new Error('chunk-worker.js must run as a worker thread');
port.on(
  'message',
  serveChunkJobs(workerData as ChunkWorkerSetup, (message, transfer) =>
    port.postMessage(message, transfer),
  ),
);
port.postMessage({ type: 'ready' } satisfies FromWorker);
