/**
 * A backup leaves its sources' access times alone (O_NOATIME, allowed to the owner and
 * root), as restic and borg do: reading a file sets its atime on a `relatime` mount
 * when the atime is older than its mtime. Runs the built binary, so large files are
 * read on the chunk threads and small ones on the walk's.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/fs.js';
import { cairnBin, requireBinary, UNENCRYPTED_ENV } from '../helpers/reliability.js';

const OLD = new Date('2000-01-01T00:00:00Z');

describe('backup and access times', () => {
  it('does not change the atime of the files it reads', async (ctx) => {
    requireBinary();
    const base = await tempDir();
    // Whether this file system keeps atimes at all (not under noatime): a plain read.
    writeFileSync(join(base, 'probe'), 'probe');
    execFileSync('touch', ['-a', '-d', OLD.toISOString(), join(base, 'probe')]);
    execFileSync('cat', [join(base, 'probe')]);
    if (statSync(join(base, 'probe')).atimeMs === OLD.getTime()) ctx.skip();
    const src = join(base, 'src');
    execFileSync('mkdir', [src]);
    const files = {
      small: randomBytes(100),
      inline: randomBytes(20_000),
      large: randomBytes(3 << 20),
    };
    for (const [name, bytes] of Object.entries(files)) {
      writeFileSync(join(src, name), bytes);
      execFileSync('touch', ['-a', '-d', OLD.toISOString(), join(src, name)]);
    }
    const env = {
      CAIRN_REPO: join(base, 'repo'),
      CAIRN_CACHE_DIR: join(base, 'cache'),
      ...UNENCRYPTED_ENV,
    };
    expect((await cairnBin(['init', '--no-encryption'], env)).code).toBe(0);
    const r = await cairnBin(['backup', src], env);
    expect(r.code, r.stderr).toBe(0);
    for (const name of Object.keys(files)) {
      expect(statSync(join(src, name)).atimeMs, name).toBe(OLD.getTime());
    }
  });
});
