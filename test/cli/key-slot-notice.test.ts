/**
 * A damaged key slot is passed over when unlocking; every command that unlocks says so,
 * once per slot, on stderr (a `notice` event with --json), without changing its exit
 * code. `key list` and `check` report damaged slots themselves, and only once.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

const saved = { ...process.env };
afterEach(() => {
  for (const k of ['CAIRN_PASSWORD', 'CAIRN_CACHE_DIR']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

// Listed before and after any real slot: the warning does not depend on the order.
const FIRST = '0'.repeat(64);
const LAST = 'f'.repeat(64);

const warningsOf = (stderr: string) =>
  stderr.split('\n').filter((l) => l.startsWith('warning: key slot'));

describe('damaged key slots', () => {
  it('every command that unlocks warns once per damaged slot, exit code unchanged', async () => {
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    await writeTree(src, { 'a.txt': 'some content\n'.repeat(100) });
    process.env.CAIRN_CACHE_DIR = await tempDir();
    process.env.CAIRN_PASSWORD = 'pw';
    expect((await cli('--repo', repo, 'init')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    await writeFile(join(repo, 'keys', FIRST), 'junk');
    await writeFile(join(repo, 'keys', LAST), '{"cairn":"key","version":7}');

    for (const args of [['snapshots'], ['ls', 'latest'], ['stats'], ['--quiet', 'snapshots']]) {
      const r = await cli('--repo', repo, ...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      const warnings = warningsOf(r.stderr);
      expect(warnings, args.join(' ')).toHaveLength(2);
      expect(warnings[0]).toContain(`key slot 00000000 of ${repo} is damaged`);
      expect(warnings[0]).toContain(`keys/${FIRST}: the key slot is not valid JSON`);
      expect(warnings[1]).toContain(`key slot ffffffff of ${repo} is damaged`);
      for (const w of warnings) expect(w).toContain("'cairn key list'");
      expect(warnings[0]).toContain("'cairn key remove 00000000'");
      expect(warnings[1]).toContain("'cairn key remove ffffffff'");
    }
    const backup = await cli('--repo', repo, 'backup', src);
    expect(backup.code, backup.stderr).toBe(0);
    expect(warningsOf(backup.stderr)).toHaveLength(2);

    const json = await cli('--repo', repo, '--json', 'snapshots');
    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    const notices = json.json.filter((e) => e.type === 'notice');
    expect(notices).toEqual([
      expect.objectContaining({
        code: 'key-slot-damaged',
        slot: FIRST,
        path: `keys/${FIRST}`,
        repository: repo,
        message: expect.stringContaining("'cairn key remove 00000000'"),
      }),
      expect.objectContaining({ code: 'key-slot-damaged', slot: LAST, path: `keys/${LAST}` }),
    ]);
    expect(json.json.at(-1)).toMatchObject({ type: 'summary', snapshots: 2 });

    // key list and check name the slots themselves: no second line about the same slot.
    const list = await cli('--repo', repo, 'key', 'list');
    expect(list.code).toBe(3);
    expect(warningsOf(list.stderr)).toEqual([]);
    expect(list.stderr.split('\n').filter((l) => l.includes(LAST))).toHaveLength(1);
    const checked = await cli('--repo', repo, 'check');
    expect(checked.code).toBe(1);
    expect(warningsOf(checked.stderr)).toEqual([]);

    // Removed, nothing is said any more. `key remove` warns about the other damaged slot,
    // not about the one it is removing.
    const removing = await cli('--repo', repo, 'key', 'remove', '0000');
    expect(removing.code).toBe(0);
    expect(warningsOf(removing.stderr)).toHaveLength(1);
    expect(warningsOf(removing.stderr)[0]).toContain("'cairn key remove ffffffff'");
    const last = await cli('--repo', repo, 'key', 'remove', 'ffff');
    expect(last.code).toBe(0);
    expect(warningsOf(last.stderr)).toEqual([]);
    const clean = await cli('--repo', repo, 'snapshots');
    expect(clean.code).toBe(0);
    expect(clean.stderr).toBe('');
  });
});
