/**
 * Retries of requests to a remote repository are said as they happen: a warning line
 * on stderr naming the request, the object, the cause and the attempt (also with
 * --quiet), and a `retry` event per retry with --json. Before, a server that accepted
 * connections and never answered kept a restore silent for three minutes (six attempts
 * of a 30 s idle timeout) before it failed.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HttpBackend } from '../../src/backends/http.js';
import type { RetryInfo } from '../../src/backends/retry.js';
import { Output } from '../../src/cli/output.js';
import { ReportedRetryBackend, RetryReport } from '../../src/cli/retry-report.js';
import { BackendError } from '../../src/core/errors.js';
import { cli } from '../helpers/cli.js';

/** A loopback TCP server: `answer` decides what each connection gets. */
async function server(answer: (socket: net.Socket) => void) {
  const sockets = new Set<net.Socket>();
  const s = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    answer(socket);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as net.AddressInfo).port}/repo`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

/** Reads the request, then resets the connection: a retryable failure, at once. */
const reset = (socket: net.Socket) => socket.once('data', () => socket.resetAndDestroy());

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

afterEach(() => {
  vi.useRealTimers();
});

describe('retries on the command line', () => {
  it('each retry is a warning on stderr, the first at once, also with --quiet', async () => {
    const srv = await server(reset);
    try {
      for (const quiet of [[], ['--quiet']]) {
        const run = await cli('--repo', srv.url, ...quiet, 'snapshots');
        expect(run.code).toBe(1);
        const err = lines(run.stderr);
        const retry = (n: number) =>
          new RegExp(
            `^warning: http GET ${srv.url}/config: .+; retry ${n} of 5 in (\\d+ ms|\\d+\\.\\d s)( \\(and \\d+ more retries\\))?$`,
          );
        expect(err[0]).toMatch(retry(1));
        // Held ones are said when the backend closes, before the error that ends the command.
        expect(err.at(-2)).toMatch(retry(5));
        expect(err.at(-1)).toMatch(new RegExp(`^cairn: http GET ${srv.url}/config: `));
      }
    } finally {
      await srv.close();
    }
  });

  it('--json prints a `retry` event per retry', async () => {
    const srv = await server(reset);
    try {
      const run = await cli('--repo', srv.url, '--json', 'snapshots');
      expect(run.code).toBe(1);
      expect(run.stderr).not.toContain('warning');
      const retries = run.json.filter((e) => e.type === 'retry');
      expect(retries.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5]);
      for (const e of retries) {
        expect(e).toMatchObject({ verb: 'get', key: 'config', retries: 5, code: 'backend' });
        expect(e.delayMs).toEqual(expect.any(Number));
        expect(e.message).toMatch(new RegExp(`^http GET ${srv.url}/config: `));
      }
      expect(run.json.at(-1)).toMatchObject({ type: 'error', code: 'backend' });
    } finally {
      await srv.close();
    }
  });

  it('a server that never answers: the idle timeout is said at each retry', async () => {
    const srv = await server(() => undefined); // accepts, reads nothing, answers nothing
    const stderr = new Collect();
    const out = new Output(false, false, new Collect(), stderr);
    const key = 'data/e4/e46a0000000000000000000000000000000000000000000000000000000000';
    const backend = new ReportedRetryBackend(
      HttpBackend.fromUrl(srv.url, { idleTimeoutMs: 300 }),
      new RetryReport(out),
      { retries: 2, baseDelayMs: 1 },
    );
    try {
      const failed = backend.get(key).catch((e: unknown) => e);
      // The first retry is said as soon as the first attempt times out.
      await vi.waitFor(() => expect(stderr.text).not.toBe(''), { timeout: 2_000 });
      expect(stderr.text).toMatch(
        new RegExp(
          `^warning: http GET ${srv.url}/${key}: no data for 300 ms waiting for the response \\(idle timeout\\); retry 1 of 2 in \\d+ ms\\n$`,
        ),
      );
      expect(await failed).toMatchObject({ code: 'backend', retryable: true });
    } finally {
      await backend.close();
      await srv.close();
    }
    expect(lines(stderr.text)[1]).toMatch(/idle timeout\); retry 2 of 2 in \d+ ms$/);
  });

  it('many retries within a second are one more line, at the end of that second', () => {
    vi.useFakeTimers();
    const stderr = new Collect();
    const report = new RetryReport(new Output(false, false, new Collect(), stderr));
    const info = (key: string, attempt = 1): RetryInfo => ({
      verb: 'put',
      key,
      attempt,
      retries: 5,
      delayMs: 1300,
      error: new BackendError(`s3 PUT bucket/repo/${key}: HTTP 503 (temporary)`, {
        retryable: true,
        status: 503,
      }),
    });
    for (let i = 0; i < 24; i++) report.onRetry(info(`data/0${i % 10}/k${i}`));
    expect(lines(stderr.text)).toEqual([
      'warning: s3 PUT bucket/repo/data/00/k0: HTTP 503 (temporary); retry 1 of 5 in 1.3 s',
    ]);
    vi.advanceTimersByTime(1000);
    expect(lines(stderr.text)[1]).toBe(
      'warning: s3 PUT bucket/repo/data/03/k23: HTTP 503 (temporary); retry 1 of 5 in 1.3 s (and 22 more retries)',
    );
    // A quiet second later, the next one is said at once again.
    vi.advanceTimersByTime(1500);
    report.onRetry(info('data/09/k9', 2));
    expect(lines(stderr.text)).toHaveLength(3);
    expect(lines(stderr.text)[2]).toContain('retry 2 of 5');
    report.flush();
    expect(lines(stderr.text)).toHaveLength(3);
  });

  it('names the verb and key when the message does not', () => {
    const stderr = new Collect();
    const report = new RetryReport(new Output(false, false, new Collect(), stderr));
    report.onRetry({
      verb: 'delete',
      key: 'locks/ab12',
      attempt: 1,
      retries: 5,
      delayMs: 40,
      error: new BackendError('socket hang up', { retryable: true }),
    });
    expect(stderr.text).toBe('warning: DELETE locks/ab12: socket hang up; retry 1 of 5 in 40 ms\n');
  });
});
