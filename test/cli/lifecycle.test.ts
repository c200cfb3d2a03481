/** forget, prune, unlock and check --read-data-subset through the CLI, text and --json. */
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockKey } from '../../src/repo/locks.js';
import { cli } from '../helpers/cli.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';

async function setup() {
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  process.env.CAIRN_CACHE_DIR = await tempDir();
  expect(
    (
      await cli(
        '--repo',
        repo,
        'init',
        '--no-encryption',
        '--min',
        '1K',
        '--avg',
        '4K',
        '--max',
        '16K',
      )
    ).code,
  ).toBe(0);
  for (let v = 1; v <= 3; v++) {
    await writeFile(join(src, 'data.bin'), pseudoRandomBytes(60_000, v));
    expect((await cli('--repo', repo, 'backup', src, '--tag', `v${v}`)).code).toBe(0);
  }
  return { repo, src };
}

function lockRecord(o: Record<string, unknown>): string {
  const now = new Date().toISOString();
  return JSON.stringify({
    host: 'far-away',
    pid: 99,
    user: 'bob',
    time: now,
    refreshedAt: now,
    exclusive: true,
    operation: 'prune',
    ...o,
  });
}

describe('cairn forget / prune / unlock / check --read-data-subset', () => {
  it('forget --dry-run explains, forget --prune removes, check stays clean', async () => {
    const { repo } = await setup();
    // backups released their locks
    expect(await readdir(join(repo, 'locks')).catch(() => [])).toEqual([]);

    const dry = await cli(
      '--repo',
      repo,
      '--json',
      'forget',
      '--keep-last',
      '1',
      '--keep-tag',
      'v1',
      '--dry-run',
    );
    expect(dry.code).toBe(0);
    const verdicts = dry.json.filter((e) => e.type === 'snapshot');
    expect(verdicts.map((e) => [(e.tags as string[])[0], e.keep, e.reasons])).toEqual([
      ['v3', true, ['last snapshot']],
      ['v2', false, []],
      ['v1', true, ['tag v1']],
    ]);
    const text = await cli('--repo', repo, 'forget', '--keep-last', '1', '--dry-run');
    expect(text.stdout).toMatch(/keep\s+last snapshot/);
    // Times in UTC, as the calendar rules judge them, whatever TZ says.
    const newest = verdicts.find((e) => e.keep && (e.tags as string[])[0] === 'v3')!;
    expect(text.stdout).toContain('Time (UTC)');
    expect(text.stdout).toContain((newest.time as string).slice(0, 19).replace('T', ' '));
    expect(text.stdout).toContain('would keep 1, would remove 2 snapshot(s)');

    const none = await cli('--repo', repo, 'forget');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('forget needs a policy');

    const real = await cli('--repo', repo, 'forget', '--keep-last', '1', '--prune', '--grace', '0');
    expect(real.code).toBe(0);
    expect(real.stdout).toContain('kept 1, removed 2 snapshot(s)');
    expect(real.stdout).toMatch(/deleted \d+ tree nodes? and [1-9]\d* data blobs?/);

    const prune = await cli('--repo', repo, '--json', 'prune', '--dry-run');
    expect(prune.json.at(-1)).toMatchObject({
      type: 'summary',
      operation: 'prune',
      snapshots: 1,
      unreferencedBlobs: 0,
      dryRun: true,
    });

    const check = await cli('--repo', repo, 'check', '--read-data-subset', '1/2');
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/read \d+ blobs/);
    expect(check.stdout).toContain('no problems found');
    const bad = await cli('--repo', repo, 'check', '--read-data-subset', '3/2');
    expect(bad.code).toBe(2);
  });

  it('forget refuses zero, negative and fractional counts and a zero --keep-within', async () => {
    const { repo } = await setup();
    const counts: Array<[string, string]> = [
      ['--keep-last', '0'],
      ['--keep-daily', '0'],
      ['--keep-monthly', '0'],
      ['--keep-last', '-1'],
      ['--keep-hourly', '1.5'],
    ];
    for (const [option, value] of counts) {
      for (const dry of [['-n'], []]) {
        const r = await cli('--repo', repo, 'forget', option, value, ...dry);
        expect(r.code, `${option} ${value} ${dry}`).toBe(2);
        expect(r.stderr).toContain(`${option} "${value}"`);
        expect(r.stderr).toContain('counts are whole numbers starting at 1');
      }
    }
    // A zero next to a real rule is refused as well: the user meant something else.
    const mixed = await cli('--repo', repo, 'forget', '--keep-last', '0', '--keep-tag', 'v1');
    expect(mixed.code).toBe(2);
    for (const d of ['0d', '0h', '0y0m0d0h']) {
      const r = await cli('--repo', repo, 'forget', '--keep-within', d);
      expect(r.code, d).toBe(2);
      expect(r.stderr).toContain(`--keep-within "${d}" is zero`);
    }
    const left = await cli('--repo', repo, '--json', 'snapshots');
    expect(left.json.filter((e) => e.type === 'snapshot')).toHaveLength(3);
  });

  it('forget --keep-within longer than dates reach keeps all; --grace refuses months and needs --prune', async () => {
    const { repo } = await setup();
    // Before: a NaN limit, and every snapshot removed, the newest included.
    const huge = await cli('--repo', repo, '--json', 'forget', '--keep-within', '300000y');
    expect(huge.code, huge.stderr).toBe(0);
    expect(huge.json.at(-1)).toMatchObject({ type: 'summary', kept: 3, removed: [] });
    const months = await cli('--repo', repo, 'prune', '--grace', '30m');
    expect(months.code).toBe(2);
    expect(months.stderr).toContain('m means months here');
    const forgetMonths = await cli(
      '--repo',
      repo,
      'forget',
      '--keep-last',
      '1',
      '--prune',
      '--grace',
      '1m',
    );
    expect(forgetMonths.code).toBe(2);
    const noPrune = await cli('--repo', repo, 'forget', '--keep-last', '1', '--grace', '0');
    expect(noPrune.code).toBe(2);
    expect(noPrune.stderr).toContain('add --prune');
    const left = await cli('--repo', repo, '--json', 'snapshots');
    expect(left.json.filter((e) => e.type === 'snapshot')).toHaveLength(3);
  });

  it('a held lock stops prune with an explanation; unlock removes stale, --remove-all the rest', async () => {
    const { repo } = await setup();
    await writeFile(join(repo, lockKey('a'.repeat(64))), lockRecord({}));
    const old = new Date(Date.now() - 5 * 3600_000).toISOString();
    await writeFile(
      join(repo, lockKey('b'.repeat(64))),
      lockRecord({ time: old, refreshedAt: old, host: hostname() }),
    );
    const blocked = await cli('--repo', repo, 'prune', '--grace', '0');
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain('bob@far-away pid 99');
    expect(blocked.stderr).toContain('cairn unlock');

    const unlock = await cli('--repo', repo, '--json', 'unlock');
    expect(unlock.json.filter((e) => e.type === 'unlocked').map((e) => e.id)).toEqual([
      'b'.repeat(64),
    ]);
    expect(unlock.json.at(-1)).toMatchObject({ removed: 1, left: 1 });
    const all = await cli('--repo', repo, 'unlock', '--remove-all');
    expect(all.stdout).toContain('removed 1 lock(s); 0 live lock(s) left');
    const prune = await cli('--repo', repo, 'prune', '--grace', '0');
    expect(prune.code).toBe(0);
  });

  it('prune says how many temporary files of killed writers it removes (dry run: would)', async () => {
    const { repo } = await setup();
    const left = join(repo, 'data', '.tmp~0123456789abcdef');
    await mkdir(join(repo, 'data'), { recursive: true });
    await writeFile(left, 'half a blob');
    await utimes(left, Date.now() / 1000 - 7200, Date.now() / 1000 - 7200);
    const dry = await cli('--repo', repo, 'prune', '--dry-run');
    expect(dry.stdout).toContain(
      'would remove 1 temporary file that killed writers left over an hour ago',
    );
    const real = await cli('--repo', repo, 'prune');
    expect(real.stdout).toContain(
      'removed 1 temporary file that killed writers left over an hour ago',
    );
    expect((await readdir(join(repo, 'data'))).filter((n) => n.startsWith('.tmp~'))).toEqual([]);
  });

  it('a lock of a process running on this host: prune says to wait, --remove-all keeps it', async () => {
    const { repo } = await setup();
    // The test runner's parent stands for a backup running here.
    const running = lockRecord({ host: hostname(), pid: process.ppid, exclusive: true });
    await writeFile(join(repo, lockKey('c'.repeat(64))), running);
    const blocked = await cli('--repo', repo, 'prune', '--grace', '0');
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(`pid ${process.ppid}`);
    expect(blocked.stderr).toContain('Wait for it to finish');
    expect(blocked.stderr).not.toContain('--remove-all');
    const all = await cli('--repo', repo, 'unlock', '--remove-all');
    expect(all.code).toBe(0);
    expect(all.stderr).toContain('that process is still running on this host');
    expect(all.stdout).toContain('removed 0 lock(s); 1 live lock(s) left');
  });
});
