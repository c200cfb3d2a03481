/** `cairn backup --ignore-inode --ignore-ctime` reach the stat cache (ops/backup-ignore-stat.test.ts has the rules). */
import { copyFileSync, renameSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

describe('cairn backup --ignore-inode --ignore-ctime', () => {
  it('takes a file copied over itself with its mtime as unchanged', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    await writeTree(src, { f: 'f'.repeat(5000) });
    const file = join(src, 'f');
    const t = Date.now() / 1000 - 3600;
    utimesSync(file, t, t);
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    const args = ['--repo', repo, '--json', 'backup', src, '--ignore-inode', '--ignore-ctime'];
    await new Promise((r) => setTimeout(r, 250));
    expect((await cli(...args)).code).toBe(0);
    const st = statSync(file);
    copyFileSync(file, `${file}.copy`);
    utimesSync(`${file}.copy`, st.atime, st.mtime);
    renameSync(`${file}.copy`, file);
    await new Promise((r) => setTimeout(r, 250));
    const again = await cli(...args);
    expect(again.json.at(-1)).toMatchObject({ filesUnchanged: 1, filesChanged: 0, bytesRead: 0 });
    const plain = await cli('--repo', repo, '--json', 'backup', src);
    expect(plain.json.at(-1)).toMatchObject({ filesUnchanged: 0, filesChanged: 1 });
  });
});
