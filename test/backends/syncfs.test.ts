import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FileSystemSyncer, syncFileSystem } from '../../src/backends/syncfs.js';
import { tempDir } from '../helpers/fs.js';

const run = promisify(execFile);
const linux = process.platform === 'linux';

/** True where the perl helper can be used: perl is installed and knows syncfs's number. */
const perlSyncs = await run('perl', ['-MConfig', '-e', 'print $Config{archname}']).then(
  ({ stdout }) => /^(x86_64-linux(?!.*x32)|aarch64-linux)/.test(stdout),
  () => false,
);

/** Pids of this process's children running the helper shell. */
async function helpers(): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)]);
  return stdout
    .split('\n')
    .filter((l) => l.includes('cairn-syncfs'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

describe.runIf(linux)('syncfs through a kept helper', () => {
  it('flushes the file system of a folder, many times with one helper process', async () => {
    const syncer = new FileSystemSyncer(await tempDir());
    const answers = await Promise.all([syncer.sync(), syncer.sync(), syncer.sync()]);
    expect(answers).toEqual([true, true, true]);
    expect(await syncer.sync()).toBe(true);
    expect(syncer.started).toBe(1);
    expect(await syncFileSystem(await tempDir())).toBe(true);
  });

  it.each(['perl', 'shell'] as const)(
    'answers false for a folder that does not exist (callers then fsync): %s',
    async (helper) => {
      if (helper === 'perl' && !perlSyncs) return;
      const syncer = new FileSystemSyncer(join(await tempDir(), 'missing'), helper);
      expect(await syncer.sync()).toBe(false);
      expect(syncer.program).toBe(helper);
    },
  );

  it('makes the call through perl where perl knows its number, else through sync -f', async () => {
    const syncer = new FileSystemSyncer(await tempDir());
    expect(await syncer.sync()).toBe(true);
    expect(syncer.program).toBe(perlSyncs ? 'perl' : 'shell');
    const shell = new FileSystemSyncer(await tempDir(), 'shell');
    expect(await Promise.all([shell.sync(), shell.sync()])).toEqual([true, true]);
  });

  it('ends an idle helper after a second and starts another when needed', async () => {
    const syncer = new FileSystemSyncer(await tempDir());
    const before = await helpers();
    expect(await syncer.sync()).toBe(true);
    const during = (await helpers()).filter((p) => !before.includes(p));
    expect(during.length).toBe(1);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await helpers()).filter((p) => during.includes(p))).toEqual([]);
    expect(await syncer.sync()).toBe(true);
    expect(syncer.started).toBe(2);
  });

  it('keeps a process alive while a request is in flight, and not after', async () => {
    const folder = await tempDir();
    // The build's module (`npm test` builds first): a plain Node process cannot load .ts.
    const module = pathToFileURL(
      join(resolve(process.env.CAIRN_DIST ?? 'dist'), 'backends/syncfs.js'),
    ).href;
    // The helper's idle second must not hold the process: it exits right after answering.
    const code = `import { syncFileSystem } from ${JSON.stringify(module)};
      const t = performance.now();
      syncFileSystem(${JSON.stringify(folder)}).then((ok) => console.log(ok, performance.now() - t));`;
    const started = performance.now();
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code]);
    const wall = performance.now() - started;
    expect(stdout.trim().split(' ')[0]).toBe('true');
    expect(wall).toBeLessThan(900 + Number(stdout.trim().split(' ')[1]));
  });
});
