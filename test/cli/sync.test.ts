/** `cairn sync` and `cairn init --copy-params-from` through the CLI (local repositories). */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LimitBackend } from '../../src/backends/limit.js';
import { LocalBackend } from '../../src/backends/local.js';
import { CommandContext } from '../../src/cli/context.js';
import { Output } from '../../src/cli/output.js';
import { cli } from '../helpers/cli.js';
import { describeTree, tempDir } from '../helpers/fs.js';
import { changeDeepFile, writeSource } from '../helpers/sync-fixtures.js';

beforeEach(async () => {
  process.env.CAIRN_CACHE_DIR = await tempDir();
});

/** 1 when the repository keeps a snapshot index (rewritten once per saved record). */
function derived(repo: string): number {
  return existsSync(join(repo, 'index')) ? 1 : 0;
}

async function setup() {
  const root = await tempDir();
  const src = join(root, 'src');
  const dst = join(root, 'dst');
  const data = await tempDir();
  await writeSource(data);
  expect(
    (
      await cli(
        '--repo',
        src,
        'init',
        '--no-encryption',
        '--avg',
        '1K',
        '--min',
        '256',
        '--max',
        '4K',
      )
    ).code,
  ).toBe(0);
  expect((await cli('--repo', src, 'backup', data, '--tag', 'one')).code).toBe(0);
  return { src, dst, data };
}

describe('cairn sync', () => {
  it('copies into a repository made with --copy-params-from; again sends nothing', async () => {
    const { src, dst, data } = await setup();
    const init = await cli(
      '--repo',
      dst,
      '--json',
      'init',
      '--no-encryption',
      '--copy-params-from',
      src,
    );
    expect(init.code).toBe(0);
    const srcConfig = JSON.parse(await readFile(join(src, 'config'), 'utf8'));
    const dstConfig = JSON.parse(await readFile(join(dst, 'config'), 'utf8'));
    expect(dstConfig.chunker).toEqual(srcConfig.chunker);
    expect(dstConfig.inlineMax).toBe(srcConfig.inlineMax);
    expect(dstConfig.paging).toEqual(srcConfig.paging);
    expect(dstConfig.id).not.toBe(srcConfig.id);

    const run = await cli('--json', 'sync', src, dst, '--transfers', '3', '--checkers', '2');
    expect(run.code).toBe(0);
    const types = run.json.map((e) => e.type);
    expect(types[0]).toBe('start');
    expect(types).toContain('snapshot');
    const summary = run.json.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', operation: 'sync', dryRun: false });
    expect((summary.copied as string[]).length).toBe(1);
    expect(summary.blobsSent as number).toBeGreaterThan(5);
    // One PUT per blob and the record (plus, per copied record, an index if kept).
    expect(summary.requests).toMatchObject({
      destination: { put: (summary.blobsSent as number) + 1 + derived(dst) },
    });

    const target = await tempDir();
    expect((await cli('--repo', dst, 'restore', 'tag:one', '--target', target)).code).toBe(0);
    expect(await describeTree(target)).toEqual(await describeTree(data));

    const again = await cli('sync', src, dst);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('copied 0 snapshots, skipped 1 already in');
    expect(again.stdout).toMatch(/sent 0 blobs/);

    await changeDeepFile(data);
    expect((await cli('--repo', src, 'backup', data, '--tag', 'two')).code).toBe(0);
    const dry = await cli('--json', 'sync', '--dry-run', src, dst);
    const drySummary = dry.json.at(-1)!;
    expect(drySummary).toMatchObject({ dryRun: true, treeBlobsSent: 4 });
    const step = await cli('--json', 'sync', src, dst, 'tag:two');
    const stepSummary = step.json.at(-1)!;
    expect(stepSummary).toMatchObject({
      treeBlobsSent: 4,
      dataBlobsSent: drySummary.dataBlobsSent,
      bytesSent: drySummary.bytesSent,
    });
    expect((stepSummary.requests as { destination: { put: number } }).destination.put).toBe(
      (stepSummary.blobsSent as number) + 1 + derived(dst),
    );
    const check = await cli('--repo', dst, 'check', '--read-data');
    expect(check.code).toBe(0);
  });

  it('explains a chunker mismatch and rejects bad options', async () => {
    const { src, dst } = await setup();
    expect((await cli('--repo', dst, 'init', '--no-encryption')).code).toBe(0);
    const mismatch = await cli('sync', src, dst);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/chunker parameters differ/);
    expect(mismatch.stderr).toContain('--copy-params-from');

    expect((await cli('sync', src, dst, '--transfers', '0')).code).toBe(2);
    expect((await cli('sync', src, dst, '--bwlimit', 'fast')).code).toBe(2);
    expect((await cli('sync', src)).code).toBe(2);
    const other = join(await tempDir(), 'r');
    const conflict = await cli(
      '--repo',
      other,
      'init',
      '--no-encryption',
      '--copy-params-from',
      src,
      '--avg',
      '4K',
    );
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(/cannot be combined with --avg/);
    const missing = await cli(
      '--repo',
      other,
      'init',
      '--no-encryption',
      '--copy-params-from',
      join(other, 'nope'),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no cairn repository/);
  });

  it('wraps backends with the --tps-limit and --bwlimit caps', async () => {
    const { src, dst } = await setup();
    expect(
      (await cli('--repo', dst, 'init', '--no-encryption', '--copy-params-from', src)).code,
    ).toBe(0);
    const out = new Output(true, true);
    const signal = new AbortController().signal;
    const plain = await new CommandContext({}, out, signal).openBackend(src);
    expect(plain).toBeInstanceOf(LocalBackend);
    const ctx = new CommandContext({ tpsLimit: '20', bwlimit: '10M/s' }, out, signal);
    expect(ctx.tuning).toMatchObject({ tps: 20, bytesPerSecond: 10 * 1024 * 1024 });
    const limited = await ctx.openBackend(src);
    expect(limited).toBeInstanceOf(LimitBackend);
    const started = performance.now();
    for (let i = 0; i < 30; i++) await limited.stat('config');
    // A burst of 20, then 10 more at 20 per second.
    expect(performance.now() - started).toBeGreaterThan(400);
    const run = await cli('--json', '--tps-limit', '1000', '--bwlimit', '64M', 'sync', src, dst);
    expect(run.code).toBe(0);
    expect(run.json.at(-1)).toMatchObject({ type: 'summary', operation: 'sync' });
  });
});

describe('init --copy-params-from an unencrypted repository', () => {
  it('makes an unencrypted copy, even with a password at hand, and sync works', async () => {
    const root = await tempDir();
    const src = join(root, 'src');
    const dst = join(root, 'dst');
    const data = await tempDir();
    await writeSource(data);
    expect((await cli('--repo', src, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', src, 'backup', data)).code).toBe(0);
    process.env.CAIRN_PASSWORD = 'a password the copy must not use';
    try {
      const init = await cli('--repo', dst, 'init', '--copy-params-from', src);
      expect(init.code).toBe(0);
      expect(init.stdout).toContain('is not encrypted: neither is the new repository');
      const config = JSON.parse(await readFile(join(dst, 'config'), 'utf8'));
      expect(config.encryption).toBe('none');
      expect(init.stderr).toContain('CAIRN_PASSWORD is set, and commands refuse an unencrypted');
      // The password is not the source's (it is not encrypted), so it is the copy's: and
      // a password given for an unencrypted repository is refused.
      const refused = await cli('sync', src, dst);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `${dst}/config: says the repository is not encrypted, but a password was given for it (CAIRN_PASSWORD; an unencrypted repository is used without one: CAIRN_PASSWORD= cairn ...)`,
      );
    } finally {
      delete process.env.CAIRN_PASSWORD;
    }
    const run = await cli('sync', src, dst);
    expect(run.code, run.stderr).toBe(0);
  });
});
