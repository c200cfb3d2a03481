/**
 * The scan thread of a backup (dir-scanner.ts): scans the directories it is sent, one
 * at a time, in order, and posts each scan back with its buffers transferred.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { scanDirectory } from './dir-scan.js';
import type { FromScanWorker, ScanWorkerSetup, ToScanWorker } from './dir-scanner.js';
import { type ExcludeTag, TagExcluder } from './exclude-tags.js';

const port = parentPort!;
const setup = workerData as ScanWorkerSetup | null;
// Headers arrive as Uint8Arrays (structured clone): Buffers again for `equals`.
const tags = new TagExcluder(
  (setup?.tags ?? []).map(
    (t): ExcludeTag => (t.header ? { name: t.name, header: Buffer.from(t.header) } : t),
  ),
);
port.on('message', (m: ToScanWorker) => {
  let reply: FromScanWorker;
  try {
    reply = { id: m.id, scan: scanDirectory(m.at, tags, setup?.xattrs ?? 'none') };
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
