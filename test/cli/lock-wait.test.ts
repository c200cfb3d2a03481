/** The note a backup or sync prints while it waits for a prune's sweep: whose, how long at most. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lockWaitNote } from '../../src/cli/lock-wait.js';
import { Output } from '../../src/cli/output.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => {
    text += d.toString();
  });
  return { stream, text: () => text };
}

describe('waiting for a prune', () => {
  it('names the prune and the longest wait, once', () => {
    const stdout = capture();
    const out = new Output(false, false, stdout.stream, new PassThrough());
    const note = lockWaitNote(out);
    const taken = new Date(Date.now() - 2 * 60_000).toISOString();
    const sweep = {
      id: 'f'.repeat(64),
      record: {
        host: 'nas',
        pid: 4321,
        user: 'ops',
        time: taken,
        refreshedAt: taken,
        exclusive: true,
        operation: 'prune',
        sweeping: true,
      },
      stale: undefined,
    };
    note(sweep);
    note(sweep);
    expect(stdout.text()).toMatch(
      /^waiting for a prune to finish deleting: exclusive lock f{8} \(prune\) held by ops@nas pid 4321, taken 2m\d*s? ago \(at most 2[78]m\d*s? more, should it have died\)\.\.\.\n$/,
    );
  });
});
