/**
 * One AbortSignal fans out to every file, request and retry wait an operation has in
 * flight, each adding its own abort listener and removing it when done. Node prints
 * "MaxListenersExceededWarning: Possible EventTarget memory leak detected" once more
 * than 10 are on one signal, which a backup did on the terminal although nothing
 * leaked. These tests run the operations on the compiled build (worker threads, as the
 * CLI runs them) with a signal of their own and fail on any process warning; the same
 * against a real S3 server, where every request in flight listens too.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type * as S3 from '../../src/backends/s3.js';
import type * as Cairn from '../../src/index.js';
import { compiledModules } from '../helpers/compiled.js';
import { pseudoRandomBytes, tempDir, writeTree } from '../helpers/fs.js';
import { rgwBucketFixture } from '../helpers/rgw-bucket.js';

const cairn = await compiledModules<typeof Cairn>();

let warnings: string[] = [];
const onWarning = (w: Error) =>
  warnings.push(`${w.name}: ${w.message} ${w.stack?.split('\n').slice(1, 5).join(' ')}`);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});

/** 48 files of 96 KiB each (two or more chunks each with 16 KiB minimum chunks). */
function manyFiles(seed: number): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 48; i++) files[`f${i}.bin`] = pseudoRandomBytes(96 * 1024, seed * 100 + i);
  return files;
}

const CHUNKER = { min: 4096, avg: 16384, max: 65536, level: 1 };
const newSignal = () => new AbortController().signal;

/** Resolves once warnings emitted so far (on the next tick) have arrived. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('operations sharing one AbortSignal', () => {
  it('back up, restore, check and sync without a listener warning', async () => {
    const base = await tempDir('cairn-abort-');
    const src = join(base, 'src');
    await writeTree(src, { a: manyFiles(1), b: manyFiles(2) });
    const params = { chunker: CHUNKER };
    const repo = await cairn.initRepository(new cairn.LocalBackend(join(base, 'repo')), params);
    const signal = newSignal;
    // The second backup finds most chunks stored: files finish fast and many are in flight.
    await cairn.backup(repo, { paths: [src], signal: signal() });
    await writeTree(join(src, 'c'), manyFiles(3));
    await cairn.backup(repo, { paths: [src], signal: signal() });
    const [ref] = (await repo.snapshots.list({})).slice(-1);
    if (!ref) throw new Error('no snapshot');
    await cairn.restore(repo, ref.id, ref.snapshot, {
      target: join(base, 'restored'),
      signal: signal(),
    });
    const report = await cairn.check(repo, { readData: true, signal: signal() });
    expect(report.problems).toEqual([]);
    const copy = await cairn.initRepository(new cairn.LocalBackend(join(base, 'copy')), params);
    await cairn.sync(repo, copy, { signal: signal() });
    await repo.close?.();
    await copy.close?.();
    await settled();
    expect(warnings).toEqual([]);
  });
});

describe('operations sharing one AbortSignal on S3', () => {
  const s3 = rgwBucketFixture('abort-listeners');

  it('back up to, restore from and sync from S3 without a listener warning', async () => {
    const base = await tempDir('cairn-abort-s3-');
    const src = join(base, 'src');
    await writeTree(src, { a: manyFiles(4), b: manyFiles(5) });
    const params = { chunker: CHUNKER };
    // The build's own S3Backend: its errors must be the build's classes (hasCode).
    const { S3Backend } = await compiledModules<typeof S3>('backends/s3.js');
    const backend = S3Backend.fromUrl(s3.bucket.url('abort'), {
      credentials: { accessKeyId: s3.server.accessKey, secretAccessKey: s3.server.secretKey },
      region: s3.server.region,
    });
    const repo = await cairn.initRepository(backend, params);
    await cairn.backup(repo, { paths: [src], signal: newSignal() });
    const [ref] = await repo.snapshots.list({});
    if (!ref) throw new Error('no snapshot');
    await cairn.restore(repo, ref.id, ref.snapshot, {
      target: join(base, 'restored'),
      signal: newSignal(),
    });
    const copy = await cairn.initRepository(new cairn.LocalBackend(join(base, 'copy')), params);
    await cairn.sync(repo, copy, { signal: newSignal() });
    await repo.close?.();
    await copy.close?.();
    await settled();
    expect(warnings).toEqual([]);
  }, 120_000);
});
