// Its own file: a perl that fails is remembered for the rest of the process.
import { chmod, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSystemSyncer } from '../../src/backends/syncfs.js';
import { tempDir } from '../helpers/fs.js';

const path = process.env.PATH;
afterEach(() => {
  process.env.PATH = path;
});

describe.runIf(process.platform === 'linux')('syncfs when perl cannot make the call', () => {
  it('sends the requests of a perl that exits without answering to sync -f, and stays there', async () => {
    // A `perl` first on the PATH that quits at once, as one for another architecture does.
    const bin = await tempDir();
    await writeFile(join(bin, 'perl'), '#!/bin/sh\nexit 2\n');
    await chmod(join(bin, 'perl'), 0o755);
    process.env.PATH = `${bin}${delimiter}${path}`;
    const syncer = new FileSystemSyncer(await tempDir());
    expect(await Promise.all([syncer.sync(), syncer.sync()])).toEqual([true, true]);
    expect(syncer.program).toBe('shell');
    expect(syncer.started).toBe(2);
    // A new syncer of this thread does not try that perl again.
    const next = new FileSystemSyncer(await tempDir());
    expect(await next.sync()).toBe(true);
    expect(next.program).toBe('shell');
    expect(next.started).toBe(1);
  });

  it('answers false when neither helper can run', async () => {
    process.env.PATH = await tempDir();
    const syncer = new FileSystemSyncer(await tempDir());
    expect(await syncer.sync()).toBe(false);
  });
});
