/**
 * The scan thread of a backup (dir-scanner.ts): scans the directories it is sent, one
 * at a time, in order, and posts each scan back with its buffers transferred.
 */
import { parentPort } from 'node:worker_threads';
import { scanDirectory } from './dir-scan.js';
import type { FromScanWorker, ToScanWorker } from './dir-scanner.js';

const port = parentPort!;
port.on('message', (m: ToScanWorker) => {
  let reply: FromScanWorker;
  try {
    reply = { id: m.id, scan: scanDirectory(m.at) };
  } catch {
    // The walk lists the directory itself and reports why it cannot.
    reply = { id: m.id };
  }
  if (!reply.scan) {
    port.postMessage(reply);
    return;
  }
  const { stats, ok } = reply.scan;
  port.postMessage(reply, [stats.buffer as ArrayBuffer, ok.buffer as ArrayBuffer]);
});
port.postMessage({ ready: true } satisfies FromScanWorker);
