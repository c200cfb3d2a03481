/**
 * GroupCommit: hand-ins are published in batches, in order, each resolving only once
 * its objects (and everything handed in before) have their final names; a failed
 * commit fails everything after it; an abandoned queue leaves no temporary file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/backends/group-commit.js';
import { LocalDirectWriter, type PendingObject } from '../../src/backends/local-direct.js';
import { tempDir } from '../helpers/fs.js';

const item = (key: string, text: string) => ({ key, parts: [Buffer.from(text)] });

async function names(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && !e.name.startsWith('.tmp~')) out.push(join(e.parentPath, e.name));
  }
  return out.map((f) => f.slice(root.length + 1)).sort();
}

/** A LocalDirectWriter that counts its batches and can be made to fail one. */
class CountingWriter extends LocalDirectWriter {
  batches: number[] = [];
  failNext = false;
  /** When set, commits wait for it before publishing. */
  gate: Promise<void> | undefined;
  override async publishAll(pending: PendingObject[]): Promise<boolean[]> {
    this.batches.push(pending.length);
    await this.gate;
    if (this.failNext) {
      this.failNext = false;
      this.discard(pending);
      throw new Error('disk on fire');
    }
    return super.publishAll(pending);
  }
}

describe.each([true, false])('GroupCommit (fsync %s)', (fsync) => {
  it('publishes many small hand-ins in one batch, names appearing only then', async () => {
    const root = await tempDir();
    const writer = new CountingWriter({ root, fsync });
    const commits = new GroupCommit(writer, { maxDelayMs: 10_000 });
    const results: Promise<boolean[]>[] = [];
    for (let i = 0; i < 200; i++) {
      const key = `tree/${String(i % 16).padStart(2, '0')}/obj${i}`;
      results.push(commits.add(writer.writeTemps([item(key, `object ${i}`)]), 9));
    }
    // Nothing is named before the batch is published.
    expect(await names(root)).toEqual([]);
    commits.flush();
    expect(await Promise.all(results)).toEqual(results.map(() => [true]));
    expect(writer.batches).toEqual([200]);
    expect(await names(root)).toHaveLength(200);
    expect(await readFile(join(root, 'tree/05/obj5'), 'utf8')).toBe('object 5');
  });

  it('commits a partial batch once its first object has waited maxDelayMs, however busy', async () => {
    const root = await tempDir();
    const writer = new CountingWriter({ root, fsync });
    const commits = new GroupCommit(writer, { maxDelayMs: 30 });
    let firstDone = false;
    const first = commits.add(writer.writeTemps([item('data/dd/first', '1')]), 1);
    void first.then(() => {
      firstDone = true;
    });
    // A producer that keeps handing in (windows with nothing new, or a few objects).
    const later: Promise<boolean[]>[] = [];
    for (let i = 0; i < 40 && !firstDone; i++) {
      await new Promise((r) => setTimeout(r, 5));
      later.push(
        commits.add(i % 4 === 0 ? writer.writeTemps([item(`data/dd/n${i}`, 'x')]) : [], 1),
      );
    }
    expect(firstDone).toBe(true); // published while hand-ins were still coming
    expect(later.length).toBeLessThan(40);
    await commits.drain();
    await Promise.all(later);
  });

  it('resolves an empty hand-in at once when nothing is queued before it', async () => {
    const root = await tempDir();
    const writer = new CountingWriter({ root, fsync });
    const commits = new GroupCommit(writer, { maxDelayMs: 60_000 });
    expect(await commits.add([], 0)).toEqual([]);
    expect(writer.batches).toEqual([]);
  });

  it('commits a full batch at once and makes producers wait behind it', async () => {
    const root = await tempDir();
    const writer = new CountingWriter({ root, fsync });
    const commits = new GroupCommit(writer, { maxBytes: 100, maxDelayMs: 10_000 });
    const first = commits.add(writer.writeTemps([item('data/aa/one', 'x'.repeat(100))]), 100);
    // Full: committing now, not after the (long) delay; the queue is empty again.
    expect(commits.room()).toBeUndefined();
    const second = commits.add(writer.writeTemps([item('data/aa/two', 'y'.repeat(100))]), 100);
    // A full batch waits behind the one committing: the producer must wait.
    const wait = commits.room();
    expect(wait).toBeInstanceOf(Promise);
    await wait;
    expect(await first).toEqual([true]);
    expect(await second).toEqual([true]);
    expect(writer.batches).toEqual([1, 1]);
  });

  it('resolves an empty hand-in only after everything before it, and reports existing objects', async () => {
    const root = await tempDir();
    const writer = new CountingWriter({ root, fsync });
    const commits = new GroupCommit(writer, { maxDelayMs: 10_000 });
    const order: string[] = [];
    const a = commits.add(writer.writeTemps([item('data/bb/a', 'a')]), 1);
    void a.then(() => order.push('a'));
    const barrier = commits.add([], 0).then(() => order.push('barrier'));
    commits.flush();
    await barrier;
    expect(order).toEqual(['a', 'barrier']);
    expect(await names(root)).toEqual(['data/bb/a']);
    // The same key again: not written, and said so.
    const again = commits.add(writer.writeTemps([item('data/bb/a', 'other')]), 5);
    await commits.drain();
    expect(await again).toEqual([false]);
    expect(await readFile(join(root, 'data/bb/a'), 'utf8')).toBe('a');
    expect((await readdir(join(root, 'data/bb'))).sort()).toEqual(['a']);
  });

  it('fails every hand-in after a failed commit, leaving no temporary file', async () => {
    const root = await tempDir();
    const writer = new CountingWriter({ root, fsync });
    const commits = new GroupCommit(writer, { maxDelayMs: 10_000 });
    writer.failNext = true;
    const lost = commits.add(writer.writeTemps([item('data/cc/lost', 'l')]), 1);
    commits.flush();
    await expect(lost).rejects.toThrow(/disk on fire/);
    // A later hand-in (say, a window that skipped a chunk the failed batch held) fails too.
    const later = commits.add(writer.writeTemps([item('data/cc/later', 'm')]), 1);
    await expect(later).rejects.toThrow(/disk on fire/);
    await expect(commits.add([], 0)).rejects.toThrow(/disk on fire/);
    expect(await names(root)).toEqual([]);
    const left = await readdir(join(root, 'data/cc'));
    expect(left).toEqual([]);
  });

  it('abandon removes the queued temporary files, fails their hand-ins, and waits for a commit under way', async () => {
    const root = await tempDir();
    const writer = new CountingWriter({ root, fsync });
    let open = () => {};
    writer.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const commits = new GroupCommit(writer, { maxBytes: 1, maxDelayMs: 10_000 });
    // The first hand-in fills a batch and starts committing (held at the gate); the next
    // two queue behind it.
    const first = commits.add(writer.writeTemps([item('data/dd/first', 'f')]), 1);
    const queued = [
      commits.add(writer.writeTemps([item('data/dd/q1', 'q1')]), 2),
      commits.add(writer.writeTemps([item('data/dd/q2', 'q2')]), 2),
    ];
    for (const q of queued) q.catch(() => {}); // asserted below
    expect(await readdir(join(root, 'data/dd'))).toHaveLength(3); // three temporary files
    const abandoned = commits.abandon(new Error('backup stopped'));
    expect(await readdir(join(root, 'data/dd'))).toHaveLength(1); // the committing one
    open();
    await abandoned;
    // The commit under way finished; the queued ones were never published.
    expect(await first).toEqual([true]);
    for (const q of queued) await expect(q).rejects.toThrow(/backup stopped/);
    expect(await readdir(join(root, 'data/dd'))).toEqual(['first']);
    // What comes later is turned away, and its temporary file removed too.
    const late = commits.add(writer.writeTemps([item('data/dd/late', 'l')]), 1);
    await expect(late).rejects.toThrow(/backup stopped/);
    expect(await readdir(join(root, 'data/dd'))).toEqual(['first']);
    expect(writer.batches).toEqual([1]);
  });
});
