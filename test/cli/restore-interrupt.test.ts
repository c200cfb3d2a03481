/**
 * `cairn restore` stopped by Ctrl-C (SIGINT to the built binary) in the middle of a new
 * target: whole files only under real names, unfinished new directories kept staged,
 * a hint to rerun, and the rerun finishes reusing what was written.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { describeTree, pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import {
  BASE_ENV,
  halfWrittenFiles,
  interruptCairn,
  readFiles,
  requireBinary,
} from '../helpers/reliability.js';

describe('cairn restore interrupted', () => {
  it('stops on SIGINT with a hint; the rerun reuses the staged directories and completes', async () => {
    requireBinary();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    // Directories each with a chunked file and many small ones, then large files: the
    // interruption lands while the restore still has most of its work ahead.
    const chunked = 300_000;
    const large = 4_000_000;
    for (let d = 0; d < 3; d++) {
      await mkdir(join(src, `d${d}`));
      await writeFile(join(src, `d${d}`, 'a-chunked.bin'), pseudoRandomBytes(chunked, 10 + d));
      for (let f = 0; f < 400; f++)
        await writeFile(join(src, `d${d}`, `f${f}`), `file ${d}/${f}\n`.repeat(1 + (f % 40)));
    }
    await mkdir(join(src, 'z-large'));
    for (let i = 0; i < 20; i++)
      await writeFile(join(src, 'z-large', `part-${i}.bin`), pseudoRandomBytes(large, 30 + i));
    const env = { ...process.env, ...BASE_ENV, CAIRN_CACHE_DIR: await tempDir() };
    process.env.CAIRN_PASSWORD = BASE_ENV.CAIRN_PASSWORD;
    process.env.CAIRN_CACHE_DIR = env.CAIRN_CACHE_DIR;
    expect((await cli('--repo', repo, 'init')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);

    const target = join(await tempDir(), 'restored');
    // Once the first chunked file below a new directory is written: stop there.
    const { code, stdout, stderr, signalled } = await interruptCairn(
      ['--repo', repo, '--json', 'restore', 'latest', '--target', target, '-v'],
      env,
      (out) => /"type":"file","path":"[^"]*\/d\d\/a-chunked\.bin"/.test(out),
    );
    expect(signalled).toBe(true);
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('interrupted');
    expect(stderr).toContain('run the same restore again to finish it');
    // With --json the interruption is an error event too, as every error is.
    const events = stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { type: string; code?: string });
    expect(events.at(-1)).toEqual({ type: 'error', code: 'aborted', message: 'interrupted' });
    const expected = await readFiles(src);
    expect(await halfWrittenFiles(target, expected)).toEqual([]);
    // Unfinished new directories wait under temporary names.
    expect((await readdir(target)).some((n) => n.startsWith('.cairn-tmp-'))).toBe(true);

    const again = await cli('--repo', repo, '--json', 'restore', 'latest', '--target', target);
    expect(again.code, again.stderr).toBe(0);
    const summary = again.json.find((e) => e.type === 'summary')!;
    // The chunked file written before the interruption is not fetched again: reused from
    // its staged directory, or already in place if that directory was finished.
    expect(summary.bytesFetched as number).toBeLessThan(3 * chunked + 20 * large);
    expect((summary.bytesReused as number) + (summary.filesUnchanged as number)).toBeGreaterThan(0);
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });
});
