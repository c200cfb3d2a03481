/** A bucket on the test RGW for one describe block (hooks registered by the call). */
import { afterAll, beforeAll } from 'vitest';
import { createTestBucket, type RgwServer, rgwServer, stopRgw, type TestBucket } from './rgw.js';

/** The server and bucket of `rgwBucketFixture`, valid inside tests (after beforeAll). */
export interface RgwFixture {
  readonly server: RgwServer;
  readonly bucket: TestBucket;
}

/**
 * Registers beforeAll/afterAll hooks in the calling describe block (or file) that start
 * RGW (a few seconds; once per process), create a bucket labelled `label`, and remove it
 * afterwards. Read `server` and `bucket` from the returned object inside tests.
 */
export function rgwBucketFixture(label: string): RgwFixture {
  const fixture = {} as { server: RgwServer; bucket: TestBucket };
  beforeAll(async () => {
    fixture.server = await rgwServer();
    fixture.bucket = await createTestBucket(fixture.server, label);
  }, 180_000);
  afterAll(async () => {
    await fixture.bucket?.remove();
    await stopRgw();
  }, 60_000);
  return fixture;
}
