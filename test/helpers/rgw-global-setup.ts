/**
 * Optional vitest globalSetup: starts one Ceph RGW for the whole test run and hands it
 * to every test file through the CAIRN_TEST_S3_* environment (see rgw.ts), instead of
 * each file that needs S3 starting its own. Enable it in vitest.config.ts with
 * `globalSetup: ['test/helpers/rgw-global-setup.ts']`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RGW_ENV, startRgw, stopRgwSync } from './rgw.js';

let stateDir: string | undefined;

/** Starts the server, unless the environment already names one. */
export async function setup(): Promise<void> {
  if (process.env[RGW_ENV.endpoint]) return;
  stateDir = mkdtempSync(join(tmpdir(), 'cairn-rgw-'));
  const dir = stateDir;
  // Stop the daemons even if vitest dies without running teardown.
  process.on('exit', () => stopRgwSync(dir));
  const server = await startRgw(dir);
  process.env[RGW_ENV.endpoint] = server.endpoint;
  process.env[RGW_ENV.accessKey] = server.accessKey;
  process.env[RGW_ENV.secretKey] = server.secretKey;
  process.env[RGW_ENV.region] = server.region;
  process.env[RGW_ENV.stateDir] = dir;
  process.stderr.write(`[rgw] ${server.endpoint} ready in ${server.startMs} ms\n`);
}

/** Stops the server setup() started. */
export async function teardown(): Promise<void> {
  if (stateDir === undefined) return;
  stopRgwSync(stateDir);
  stateDir = undefined;
}
