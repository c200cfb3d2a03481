/**
 * An empty value for a filter or a rule is refused, not read as "none": `--host ''` or
 * `--tag ''` would list or judge every host's snapshots, `--keep-tag ''` would keep
 * every one, and `restore -i ''` would restore (and with --delete clean) everything.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

describe('empty filter values', () => {
  it('are usage errors for snapshots --host, forget --host and forget --keep-tag', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    writeFileSync(join(src, 'a'), 'a');
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src, '--host', 'one')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src, '--host', 'two')).code).toBe(0);

    const list = await cli('--repo', repo, 'snapshots', '--host', '');
    expect(list.code).toBe(EXIT.usage);
    expect(list.stderr).toContain('--host: the name is empty');
    const forgetHost = await cli('--repo', repo, 'forget', '--keep-last', '1', '--host', '');
    expect(forgetHost.code).toBe(EXIT.usage);
    const keepTag = await cli('--repo', repo, 'forget', '--keep-tag', '', '--keep-last', '1');
    expect(keepTag.code).toBe(EXIT.usage);
    expect(keepTag.stderr).toContain('--keep-tag "" names no tag');
    const left = await cli('--repo', repo, '--json', 'snapshots');
    expect(left.json.filter((e) => e.type === 'snapshot')).toHaveLength(2);
  });

  it('are usage errors for --tag (snapshots, forget, backup) and restore --include', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    writeFileSync(join(src, 'a'), 'a');
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src, '-t', 'x')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);

    // An unset shell variable: `--tag "$TAG"` would otherwise select every snapshot.
    for (const args of [
      ['snapshots', '--tag', ''],
      ['forget', '--keep-last', '1', '--tag', ''],
      ['forget', '--keep-last', '1', '--tag', ','],
      ['backup', src, '-t', ''],
    ]) {
      const run = await cli('--repo', repo, ...args);
      expect(run.code, args.join(' ')).toBe(EXIT.usage);
      expect(run.stderr).toMatch(/names no tag/);
    }
    const restore = await cli(
      '--repo',
      repo,
      'restore',
      'latest',
      '--target',
      await tempDir(),
      '-i',
      '',
      '--delete',
    );
    expect(restore.code).toBe(EXIT.usage);
    expect(restore.stderr).toContain('--include "": the path is empty');
    const left = await cli('--repo', repo, '--json', 'snapshots');
    expect(left.json.filter((e) => e.type === 'snapshot')).toHaveLength(2);
  });

  it('forget --keep-tag that matches no snapshot is refused, and nothing is removed', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    writeFileSync(join(src, 'a'), 'a');
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src, '-t', 'release')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    const typo = await cli('--repo', repo, 'forget', '--keep-tag', 'relase');
    expect(typo.code).toBe(EXIT.usage);
    expect(typo.stderr).toContain('none has the tags relase; nothing was removed');
    const left = await cli('--repo', repo, '--json', 'snapshots');
    expect(left.json.filter((e) => e.type === 'snapshot')).toHaveLength(2);
  });
});
