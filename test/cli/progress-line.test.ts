/**
 * The progress line on a terminal: redrawn on a timer between events (elapsed time,
 * rate and ETA keep moving; never in --json mode; the timer never holds the process
 * and stops at the end), and for check --read-data and sync, a percent and an ETA.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { main } from '../../src/cli/main.js';
import { Output } from '../../src/cli/output.js';
import { backup } from '../../src/ops/backup.js';
import { Throttle } from '../../src/ops/events.js';
import { paramsOf } from '../../src/repo/config.js';
import { initRepository } from '../../src/repo/repository.js';
import { pseudoRandomBytes, tempDir, writeTree } from '../helpers/fs.js';

/** A stream that says it is a terminal and keeps what is written. */
class Terminal extends Writable {
  readonly isTTY = true;
  readonly columns = 200;
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
  /** Every progress line drawn, in order. */
  get lines(): string[] {
    return this.text
      .split('\r\x1b[K')
      .map((l) => l.trim())
      .filter((l) => l !== '');
  }
}

const MiB = 1024 * 1024;

describe('progress line timer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps elapsed time, rate and ETA moving between events, and stops when cleared', () => {
    const stderr = new Terminal();
    const out = new Output(false, false, new Terminal(), stderr, { refreshMs: 250 });
    out.progress({
      files: 1,
      totalFiles: 2,
      bytes: 10 * MiB,
      totalBytes: 20 * MiB,
      elapsedMs: 1000,
    });
    expect(stderr.lines.at(-1)).toBe('50.0%  1/2 files  10 MiB/20 MiB  10 MiB/s  ETA 0:01  0:01');
    // Nothing new is reported for 2 s: the line still moves.
    vi.advanceTimersByTime(2000);
    expect(stderr.lines.at(-1)).toBe('50.0%  1/2 files  10 MiB/20 MiB  3.3 MiB/s  ETA 0:03  0:03');
    expect(stderr.lines.length).toBeGreaterThan(2);
    out.clearProgress();
    const written = stderr.text;
    vi.advanceTimersByTime(5000);
    expect(stderr.text).toBe(written);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('measures the rate over the last seconds, so skipped bytes do not make the ETA short', () => {
    const stderr = new Terminal();
    const out = new Output(false, false, new Terminal(), stderr);
    // 50 MiB unchanged at once, then 1 MiB/s for 20 s.
    out.progress({ bytes: 50 * MiB, totalBytes: 100 * MiB, elapsedMs: 100 });
    for (let s = 1; s <= 20; s++) {
      vi.advanceTimersByTime(1000);
      out.progress({ bytes: (50 + s) * MiB, totalBytes: 100 * MiB, elapsedMs: 100 + s * 1000 });
    }
    expect(stderr.lines.at(-1)).toContain('1.0 MiB/s  ETA 0:30');
    out.clearProgress();
  });

  it('starts the rate again when the count starts again (a new phase of check)', () => {
    const stderr = new Terminal();
    const out = new Output(false, false, new Terminal(), stderr);
    out.progress({ files: 40, unit: 'trees', elapsedMs: 1000 });
    vi.advanceTimersByTime(1000);
    out.progress({ files: 1000, unit: 'data blobs', elapsedMs: 2000 });
    vi.advanceTimersByTime(1000);
    out.progress({ files: 0, totalFiles: 300, unit: 'data blobs', elapsedMs: 3000 });
    vi.advanceTimersByTime(1000);
    out.progress({ files: 100, totalFiles: 300, unit: 'data blobs', elapsedMs: 4000 });
    expect(stderr.lines.at(-1)).toBe('33.3%  100/300 data blobs  ETA 0:02  0:04');
    out.clearProgress();
  });

  it('text printed meanwhile erases the line; the timer draws it again', () => {
    const stderr = new Terminal();
    const stdout = new Terminal();
    const out = new Output(false, false, stdout, stderr);
    out.progress({ files: 3, bytes: 100, elapsedMs: 500 });
    out.line('new       a/file');
    expect(stderr.text.endsWith('\r\x1b[K')).toBe(true);
    const drawn = stderr.lines.length;
    vi.advanceTimersByTime(300);
    expect(stderr.lines.length).toBe(drawn + 1);
    expect(stderr.lines.at(-1)).toMatch(/^3 files {2}100 B {2}.*0:01$/);
    out.clearProgress();
  });

  it('draws nothing and starts no timer with --json, with --quiet, or off a terminal', () => {
    const tty = new Terminal();
    for (const out of [
      new Output(true, false, new Terminal(), tty),
      new Output(false, true, new Terminal(), tty),
      new Output(false, false, new Terminal(), Object.assign(new Terminal(), { isTTY: false })),
    ]) {
      out.progress({ files: 1, bytes: 1, elapsedMs: 1 });
      vi.advanceTimersByTime(1000);
    }
    expect(tty.text).toBe('');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('progress line timer (real timers)', () => {
  it('does not keep the process alive', () => {
    const out = new Output(false, false, new Terminal(), new Terminal(), { refreshMs: 50 });
    out.progress({ files: 0, bytes: 0, elapsedMs: 0 });
    const timer = (out as unknown as { timer: NodeJS.Timeout }).timer;
    expect(timer.hasRef()).toBe(false);
    out.clearProgress();
  });
});

describe('progress line of check and sync', () => {
  const due = Throttle.prototype.due;
  beforeEach(() => {
    Throttle.prototype.due = () => true;
  });
  afterEach(() => {
    Throttle.prototype.due = due;
  });

  async function repoWithData() {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const dir = await tempDir('cairn-repo-');
    const repo = await initRepository(new LocalBackend(dir), {
      chunker: { min: 1024, avg: 4096, max: 16384, level: 1 },
      inlineMax: 32,
    });
    const src = await tempDir();
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 8; i++) files[`f${i}.bin`] = pseudoRandomBytes(40_000, 30 + i);
    await writeTree(src, files);
    await backup(repo, { paths: [src], statCacheDir: false, workers: 0 });
    return { repo, dir };
  }

  async function run(...args: string[]): Promise<{ code: number; stderr: Terminal }> {
    const stderr = new Terminal();
    const code = await main(args, { stdout: new Terminal(), stderr });
    return { code, stderr };
  }

  it('check --read-data shows percent, data blobs read of all, and an ETA', async () => {
    const { repo, dir } = await repoWithData();
    await repo.close();
    const { code, stderr } = await run('--repo', dir, 'check', '--read-data');
    expect(code).toBe(0);
    const reading = stderr.lines.filter((l) => l.includes('data blobs') && l.includes('%'));
    expect(reading.length).toBeGreaterThan(0);
    expect(reading.at(-1)).toMatch(/^100\.0% {2}(\d+)\/\1 data blobs {2}/);
    expect(stderr.lines.some((l) => / \d+\.\d%.*ETA \d+:\d\d/.test(` ${l}`))).toBe(true);
    expect(stderr.text).not.toContain(' files');
  });

  it('sync shows percent of the content to copy', async () => {
    const { repo, dir } = await repoWithData();
    const dest = await tempDir('cairn-dst-');
    await initRepository(new LocalBackend(dest), paramsOf(repo.config));
    await repo.close();
    const { code, stderr } = await run('sync', dir, dest);
    expect(code).toBe(0);
    const lines = stderr.lines.filter((l) => /^\s*\d+\.\d%/.test(l));
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.at(-1)).toMatch(/^100\.0% {2}313 KiB\/313 KiB {2}.*sent \d+ blobs/);
  });
});
