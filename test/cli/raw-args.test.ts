/** Arguments recovered byte-exact from /proc/self/cmdline, and only when it is the real one. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rawArguments } from '../../src/cli/raw-args.js';

describe('rawArguments', () => {
  it('returns the arguments as given when none lost bytes', () => {
    expect(rawArguments(['node', 'cairn', 'ls', 'latest'])).toEqual(['ls', 'latest']);
  });

  it.runIf(existsSync('/proc/self/cmdline'))(
    "ignores a command line that is not this process's arguments (rewritten, or another's)",
    () => {
      // This process's cmdline does not end in these: kept as Node gave them.
      const given = ['node', 'cairn', 'backup', 'dir\ufffd'];
      expect(rawArguments(given)).toEqual(['backup', 'dir\ufffd']);
    },
  );
});
