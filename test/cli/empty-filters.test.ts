/**
 * An empty value for a filter or a rule is refused, not read as "none": `--host ''`
 * would list or judge every host's snapshots, and `--keep-tag ''` would keep every one.
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
});
