/**
 * Arguments that are not UTF-8 (a path named with a byte such as 0xc3, given by a shell)
 * reach cairn byte-exact: Node's `process.argv` turns such bytes into U+FFFD, so cairn
 * read a path that did not exist, or made a directory of another name. Runs the built
 * binary from bash, the only way to hand a process such bytes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/fs.js';
import { BASE_ENV, BIN, requireBinary, UNENCRYPTED_ENV } from '../helpers/reliability.js';

describe('command-line arguments that are not UTF-8', () => {
  it('name the files they name: backup, ls, restore --include and --target', async () => {
    requireBinary();
    const base = await tempDir();
    const odd = Buffer.from([0x64, 0x69, 0x72, 0xc3]); // "dir" and a lone 0xc3
    const src = join(base, 'src');
    mkdirSync(src);
    mkdirSync(Buffer.concat([Buffer.from(`${src}/`), odd]));
    writeFileSync(Buffer.concat([Buffer.from(`${src}/`), odd, Buffer.from('/inside')]), 'y\n');
    const script = [
      'set -e',
      `c() { "${process.execPath}" "${BIN}" "$@"; }`,
      'D="$(printf \'dir\\xc3\')"',
      `cd "${src}"`,
      'c init --no-encryption -q',
      'c backup -q "$D"',
      'c ls latest',
      'c backup -q .',
      'c ls latest "$D"',
      `c restore -q latest --target "${base}/r" --include "$D/inside"`,
      `c restore -q latest --target "${base}/$(printf 't\\xff')"`,
    ].join('\n');
    const r = spawnSync('bash', ['-c', script], {
      env: {
        ...process.env,
        ...BASE_ENV,
        ...UNENCRYPTED_ENV,
        CAIRN_REPO: join(base, 'repo'),
        CAIRN_CACHE_DIR: join(base, 'cache'),
      },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('inside\n');
    expect(r.stdout).toContain('dir\\xc3/inside');
    const made = readdirSync(base, { encoding: 'buffer' }).map((n) => n.toString('hex'));
    expect(made).toContain(Buffer.from([0x74, 0xff]).toString('hex')); // "t" and 0xff
    const restored = readdirSync(join(base, 'r'), { encoding: 'buffer' });
    expect(restored.map((n) => n.toString('hex'))).toEqual([odd.toString('hex')]);
  });
});
