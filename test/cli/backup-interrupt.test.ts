/**
 * `cairn backup` stopped by Ctrl-C (SIGINT to the built binary) in the middle: exit 130,
 * no snapshot, and no temporary file left in the local repository. Before, the chunk
 * threads were terminated with batches queued, and their `.tmp~` files stayed until a
 * prune an hour later (17 of them in a user's run of this shape). The next backup
 * completes and check finds nothing wrong.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEMP_PREFIX } from '../../src/backends/local.js';
import { pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { cairnBin, interruptCairn, requireBinary } from '../helpers/reliability.js';

describe('cairn backup interrupted', () => {
  it('says it was interrupted, and nothing about the files it was reading', async () => {
    requireBinary();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    for (let i = 0; i < 8; i++) await writeFile(join(src, `f${i}`), randomBytes(16 << 20));
    // No password: it is given for encrypted repositories only (empty counts as unset).
    const env = { CAIRN_REPO: repo, CAIRN_CACHE_DIR: await tempDir(), CAIRN_PASSWORD: '' };
    expect((await cairnBin(['init', '--no-encryption', '--compression', 'off'], env)).code).toBe(0);
    expect((await cairnBin(['backup', src], env)).code).toBe(0);
    // What a forget and prune of every snapshot leave: the stat cache calls the files
    // unchanged, their chunks are gone, so all eight are read again, most of them
    // waiting for a chunk thread when the signal comes.
    await rm(join(repo, 'data'), { recursive: true });
    await rm(join(repo, 'tree'), { recursive: true });
    // Stopped once the first file is done: the others are being read, or waiting.
    const { code, stdout, stderr } = await interruptCairn(
      ['--json', 'backup', '-v', src],
      env,
      (out) => out.includes('"type":"file"'),
    );
    expect(code).toBe(130);
    expect(stdout).not.toContain('"type":"warning"');
    expect(stderr).toBe('cairn: interrupted\n');
  });

  it('leaves no temporary file in the repository, and saves no snapshot', async () => {
    requireBinary();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    for (let i = 0; i < 1000; i++) {
      await writeFile(join(src, `f${i}`), pseudoRandomBytes(30_000, i));
    }
    // No password: it is given for encrypted repositories only (empty counts as unset).
    const env = { CAIRN_REPO: repo, CAIRN_CACHE_DIR: await tempDir(), CAIRN_PASSWORD: '' };
    expect((await cairnBin(['init', '--no-encryption', '--compression', 'off'], env)).code).toBe(0);

    // Stopped a fifth of the way through (one event per file, not throttled like
    // progress, so however fast the machine): batches are being written and committed.
    const { code, signalled } = await interruptCairn(
      ['--json', 'backup', '-v', src],
      env,
      (out) => (out.match(/"type":"file"/g)?.length ?? 0) >= 200,
    );
    expect(signalled).toBe(true);
    expect(code).toBe(130);

    const files = await readdir(repo, { recursive: true });
    expect(files.filter((f) => f.includes(TEMP_PREFIX))).toEqual([]);
    expect(files.filter((f) => f.startsWith('snapshots/'))).toEqual([]);
    const again = await cairnBin(['backup', src], env);
    expect(again.code, again.stderr).toBe(0);
    const check = await cairnBin(['check', '--read-data'], env);
    expect(check.code, check.stderr).toBe(0);
  });
});
