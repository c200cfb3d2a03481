import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

describe('cairn tui', () => {
  it('is listed in the help and refuses to run without a terminal', async () => {
    const help = await cli('--help');
    expect(help.stdout).toMatch(/tui\s+browse snapshots, compare them and restore files/);
    // Under the test runner stdin and stdout are pipes, not a TTY.
    const run = await cli('tui', '--repo', await tempDir());
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('cairn tui needs an interactive terminal');
  });
});
