/**
 * Ctrl-C while the S3 server has stopped answering (a user's `kill -STOP` of radosgw in
 * the middle of a backup). The built binary backs up to a real Ceph RGW through a TCP
 * proxy that, once stalled, accepts connections and forwards nothing either way, as a
 * stopped server does. Before, one SIGINT was not enough: releasing the lock (a DELETE
 * of `locks/...` without a deadline) waited for the S3 client's timeouts, retried five
 * times, and cairn printed nothing for minutes. Now it stops within seconds, says that
 * the lock was left to go stale, and exits 130.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cairnBinary } from '../helpers/compiled.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { rgwBucketFixture } from '../helpers/rgw-bucket.js';

const rgw = rgwBucketFixture('interrupt-stalled');
const BIN = resolve(process.env.CAIRN_DIST ?? 'dist', 'bin/cairn.js');

/** A TCP proxy to `target` that `stall()` turns into a server that never answers. */
async function stallingProxy(target: string) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const pairs: Array<[net.Socket, net.Socket]> = [];
  let stalled = false;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    if (stalled) return; // accepted (the kernel does that for a stopped process), never read
    const upstream = net.connect(Number(port), hostname);
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.push([client, upstream]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stall() {
      stalled = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('Ctrl-C with the S3 server stalled', () => {
  it('one SIGINT stops a backup within seconds, saying the lock goes stale (exit 130)', async () => {
    cairnBinary();
    const proxy = await stallingProxy(rgw.server.endpoint);
    try {
      const src = await tempDir();
      for (let i = 0; i < 4; i++) {
        await writeFile(join(src, `f${i}`), pseudoRandomBytes(2_000_000, i));
      }
      const repo = `s3:${proxy.url}/${rgw.bucket.bucket}/stalled`;
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: rgw.server.accessKey,
        AWS_SECRET_ACCESS_KEY: rgw.server.secretKey,
        AWS_REGION: rgw.server.region,
        CAIRN_CACHE_DIR: await tempDir(),
        CAIRN_PASSWORD: '', // the repository is unencrypted
      };
      const run = (args: string[]) => {
        const child = spawn(process.execPath, [BIN, '--repo', repo, ...args], {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        const done = new Promise<number | null>((r) => child.on('close', r));
        return { child, done, out: () => ({ stdout, stderr }) };
      };
      const init = run(['init', '--no-encryption', '--compression', 'off']);
      expect(await init.done, init.out().stderr).toBe(0);

      // 8 MB at 1 MiB/s: uploads are in flight when the server stops answering.
      const backup = run(['--bwlimit', '1M', 'backup', src]);
      let interruptedAt = 0;
      setTimeout(() => {
        proxy.stall();
        setTimeout(() => {
          interruptedAt = Date.now();
          backup.child.kill('SIGINT');
        }, 500);
      }, 2000);
      // The old code needed a second Ctrl-C: give up on it after 20 s.
      let timer: NodeJS.Timeout | undefined;
      const watchdog = new Promise<'still running'>((r) => {
        const poll = () => {
          if (interruptedAt > 0 && Date.now() - interruptedAt > 20_000) {
            backup.child.kill('SIGKILL');
            r('still running');
          } else timer = setTimeout(poll, 100);
        };
        poll();
      });
      const code = await Promise.race([backup.done, watchdog]);
      clearTimeout(timer);
      const stoppedAfter = Date.now() - interruptedAt;
      const { stderr } = backup.out();
      expect(interruptedAt).toBeGreaterThan(0);
      expect(code, `stderr: ${stderr}`).toBe(130);
      expect(stoppedAfter).toBeLessThan(15_000);
      expect(stderr).toMatch(
        /warning: lock [0-9a-f]{8} \(backup\) could not be released \(no answer within 5s\): it goes stale/,
      );
      expect(stderr).toMatch(/cairn: interrupted\n$/);
      // Nothing is retried once interrupted: clean-up gets one attempt.
      expect(stderr).not.toContain('retry');
    } finally {
      await proxy.close();
    }
  }, 60_000);
});
