/**
 * DirectoryOutput keeps a directory's entries in name order while files taken from the
 * previous tree are read again concurrently (their chunks gone after a prune): an entry
 * arriving while an earlier one is still going into the writer waits behind it.
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/manifest/types.js';
import {
  type BackupWalker,
  type ChildResult,
  DirectoryOutput,
} from '../../src/ops/backup-walker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fileEntry(name: string): Entry {
  return { name, kind: 'file', mode: 0o644, mtimeNs: 0n, size: 1, chunks: [] } as unknown as Entry;
}

/** A walker whose re-reads take `readMs` and whose writer's `add` takes `addMs`. */
function fakeWalker(order: string[], readMs: number, addMs: number, failOn?: string) {
  const writer = {
    push(name: string) {
      order.push(name);
      return undefined;
    },
    async add(entry: Entry) {
      order.push(entry.name);
      await sleep(addMs);
    },
    async finishDeferred() {
      return { tree: 't', stored: Promise.resolve() };
    },
  };
  return {
    newWriter: () => writer,
    async resolveReused(r: ChildResult): Promise<Entry | undefined> {
      await sleep(readMs);
      if (r.name === failOn) throw new Error(`cannot read ${r.name}`);
      return fileEntry(r.name);
    },
  } as unknown as BackupWalker;
}

function reused(name: string): ChildResult {
  return {
    name,
    path: `/d/${name}`,
    at: `/d/${name}`,
    signature: 's',
    entry: undefined,
    reuse: true,
    files: 1,
    bytes: 1,
  };
}

function encoded(name: string): ChildResult {
  return {
    name,
    path: `/d/${name}`,
    at: `/d/${name}`,
    signature: '',
    entry: undefined,
    encoded: new Uint8Array([1]),
    reuse: undefined,
    files: 1,
    bytes: 1,
  };
}

describe('DirectoryOutput', () => {
  it('keeps name order when an entry arrives while an earlier one is still being added', async () => {
    const order: string[] = [];
    // No cache record: every child is written as it comes.
    const out = new DirectoryOutput(fakeWalker(order, 10, 60), undefined, 3);
    await out.add(reused('a'));
    await out.add(encoded('b'));
    // `a` has been read again and is going into the writer; `b` waits behind it.
    await sleep(30);
    await out.add(encoded('c'));
    await out.finish();
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('stops the walk at the next entry once a queued read failed, and waits for the queue', async () => {
    const order: string[] = [];
    const out = new DirectoryOutput(fakeWalker(order, 10, 0, 'a'), undefined, 3);
    await out.add(reused('a'));
    await sleep(30);
    await expect(out.add(encoded('b'))).rejects.toThrow('cannot read a');
    await out.drain();
    expect(order).toEqual([]);
  });
});
