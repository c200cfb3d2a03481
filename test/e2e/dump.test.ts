/**
 * End-to-end: `cairn dump` of the built CLI. A file comes out as its exact bytes; a
 * directory or the whole snapshot as a tar archive that GNU tar extracts into the same
 * tree (content, modes, mtimes to the nanosecond, symlinks, hard links, FIFOs, paths
 * and link targets over 100 bytes, names that are not UTF-8); a terminal on standard
 * output is refused rather than filled with binary data.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { chmod, link, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/context.js';
import { describeTree, pseudoRandomBytes, tempDir } from '../helpers/fs.js';
import { BASE_ENV, BIN, cairnBin, requireBinary, UNENCRYPTED_ENV } from '../helpers/reliability.js';
import { runAtTerminal } from '../helpers/terminal.js';

const execFileP = promisify(execFile);

beforeAll(() => {
  requireBinary();
});

/** `cairn dump ...args`, its standard output as bytes. */
async function dumpBytes(
  args: string[],
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [BIN, 'dump', ...args], {
      env: { ...process.env, ...BASE_ENV, ...UNENCRYPTED_ENV },
      encoding: 'buffer',
      maxBuffer: 256 << 20,
    });
    return { code: 0, stdout, stderr: stderr.toString() };
  } catch (err) {
    const e = err as { code: number; stdout: Buffer; stderr: Buffer };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr.toString() };
  }
}

/** Extracts archive bytes with GNU tar into a new folder. */
async function extract(archive: Buffer): Promise<string> {
  const dir = await tempDir();
  const file = join(await tempDir(), 'out.tar');
  await writeFile(file, archive);
  execFileSync('tar', ['-x', '-p', '-f', file, '-C', dir]);
  return dir;
}

async function sourceTree(): Promise<string> {
  const src = await tempDir();
  await writeFile(join(src, 'small.txt'), 'small and inline\n');
  await writeFile(join(src, 'big.bin'), pseudoRandomBytes(700_000, 4));
  await writeFile(join(src, 'empty'), '');
  await mkdir(join(src, 'dir', 'sub'), { recursive: true });
  await writeFile(join(src, 'dir', 'sub', 'deep.txt'), 'deep');
  await writeFile(join(src, 'dir', 'secret'), 'owner only');
  await chmod(join(src, 'dir', 'secret'), 0o600);
  await chmod(join(src, 'dir', 'sub'), 0o750);
  // A path and a link target over the 100 bytes of a ustar name field.
  const long = join(src, 'long', 'n'.repeat(60), 'm'.repeat(60));
  await mkdir(long, { recursive: true });
  await writeFile(join(long, 'file-with-a-long-path.txt'), 'far down');
  await symlink(`../${'t'.repeat(150)}`, join(src, 'long-link'));
  await symlink('small.txt', join(src, 'link'));
  await writeFile(join(src, 'h1'), 'linked twice');
  await link(join(src, 'h1'), join(src, 'h2'));
  execFileSync('mkfifo', [join(src, 'pipe')]);
  return src;
}

async function backedUp(src: string): Promise<string> {
  const repo = join(await tempDir(), 'repo');
  const env = { ...UNENCRYPTED_ENV, CAIRN_CACHE_DIR: await tempDir() };
  expect((await cairnBin(['init', '--repo', repo, '--no-encryption'], env)).code).toBe(0);
  const b = await cairnBin(['backup', '--repo', repo, src], env);
  expect(b.code, b.stderr).toBe(0);
  return repo;
}

describe('cairn dump', () => {
  it('writes a file as its exact bytes, and a tar of it with --tar', async () => {
    const src = await sourceTree();
    const repo = await backedUp(src);
    for (const name of ['big.bin', 'small.txt', 'empty']) {
      const r = await dumpBytes(['--repo', repo, 'latest', name]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.equals(await readFile(join(src, name))), name).toBe(true);
    }
    const tarred = await dumpBytes(['--repo', repo, 'latest', 'big.bin', '--tar']);
    expect(tarred.code, tarred.stderr).toBe(0);
    const out = await extract(tarred.stdout);
    expect(
      (await readFile(join(out, 'big.bin'))).equals(await readFile(join(src, 'big.bin'))),
    ).toBe(true);
  });

  it('writes the whole snapshot as a tar that GNU tar extracts into the same tree', async () => {
    const src = await sourceTree();
    const repo = await backedUp(src);
    const r = await dumpBytes(['--repo', repo, 'latest', '/']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length % 512).toBe(0);
    const out = await extract(r.stdout);
    expect(await describeTree(out)).toEqual(await describeTree(src));
    // Hard links come back as one inode; the FIFO as a FIFO.
    expect(statSync(join(out, 'h1')).ino).toBe(statSync(join(out, 'h2')).ino);
    expect(statSync(join(out, 'pipe')).isFIFO()).toBe(true);
    // Times to the nanosecond (pax mtime), where the file system keeps them.
    expect(statSync(join(out, 'big.bin'), { bigint: true }).mtimeNs).toBe(
      statSync(join(src, 'big.bin'), { bigint: true }).mtimeNs,
    );
  });

  it('writes a directory with its snapshot path, and keeps names that are not UTF-8', async () => {
    const src = await sourceTree();
    const odd = Buffer.concat([Buffer.from(join(src, 'dir', 'caf')), Buffer.from([0xe9])]);
    await writeFile(odd, 'latin-1 name');
    const repo = await backedUp(src);
    const r = await dumpBytes(['--repo', repo, 'latest', 'dir']);
    expect(r.code, r.stderr).toBe(0);
    const out = await extract(r.stdout);
    expect(readdirSync(out)).toEqual(['dir']);
    const names = readdirSync(join(out, 'dir'), { encoding: 'buffer' }).map((n) =>
      n.toString('latin1'),
    );
    expect(names.sort()).toEqual(['caf\u00e9', 'secret', 'sub']);
    const back = Buffer.concat([Buffer.from(join(out, 'dir', 'caf')), Buffer.from([0xe9])]);
    expect(await readFile(back, 'utf8')).toBe('latin-1 name');
    expect((statSync(join(out, 'dir', 'sub')).mode & 0o777).toString(8)).toBe('750');
    expect((statSync(join(out, 'dir', 'secret')).mode & 0o777).toString(8)).toBe('600');
  });

  it('leaves out a socket, which tar cannot hold, with a warning (exit 3)', async () => {
    const src = await sourceTree();
    // A socket file: bound, and left behind when the process exits.
    execFileSync('python3', [
      '-c',
      'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
      join(src, 'sock'),
    ]);
    expect(statSync(join(src, 'sock')).isSocket()).toBe(true);
    const repo = await backedUp(src);
    const r = await dumpBytes(['--repo', repo, 'latest', '/']);
    expect(r.code).toBe(EXIT.partial);
    expect(r.stderr).toContain('sock: left out: a socket (tar has no type for one)');
    const out = await extract(r.stdout);
    const expected = (await describeTree(src)).filter((line) => line !== '? sock');
    expect(await describeTree(out)).toEqual(expected);
  });

  it('keeps long paths and link targets that are not UTF-8 (pax records of bytes)', async () => {
    const src = await tempDir();
    const latin = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1
    const longDir = Buffer.concat([
      Buffer.from(`${src}/`),
      latin,
      Buffer.from(`-${'d'.repeat(90)}`),
    ]);
    await mkdir(longDir);
    const longFile = Buffer.concat([longDir, Buffer.from('/'), latin, Buffer.from('-file')]);
    await writeFile(longFile, 'deep latin-1');
    const target = Buffer.concat([Buffer.from('../'), latin, Buffer.from(`-${'t'.repeat(120)}`)]);
    await symlink(target, Buffer.concat([Buffer.from(`${src}/`), latin, Buffer.from('-link')]));
    const repo = await backedUp(src);
    const r = await dumpBytes(['--repo', repo, 'latest', '/']);
    expect(r.code, r.stderr).toBe(0);
    const out = await extract(r.stdout);
    const inOut = (p: Buffer) => Buffer.concat([Buffer.from(out), p.subarray(src.length)]);
    expect(await readFile(inOut(longFile), 'utf8')).toBe('deep latin-1');
    const link = Buffer.concat([Buffer.from(`${out}/`), latin, Buffer.from('-link')]);
    expect(readlinkSync(link, { encoding: 'buffer' }).equals(target)).toBe(true);
  });

  it('stops at once on SIGTERM while its reader has stopped reading', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'big.bin'), pseudoRandomBytes(4 << 20, 8));
    const repo = await backedUp(src);
    const child = spawn(process.execPath, [BIN, 'dump', '--repo', repo, 'latest', 'big.bin'], {
      env: { ...process.env, ...BASE_ENV, ...UNENCRYPTED_ENV },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.stdout.pause(); // never read: the pipe fills and the dump's writes wait
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    await new Promise((r) => setTimeout(r, 1500));
    const stopped = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(EXIT.interrupted);
    expect(Date.now() - stopped).toBeLessThan(3000);
    child.stdout.destroy();
  });

  it('names what is missing, and refuses --json', async () => {
    const src = await sourceTree();
    const repo = await backedUp(src);
    const missing = await dumpBytes(['--repo', repo, 'latest', 'no/such/file']);
    expect(missing.code).toBe(EXIT.failure);
    expect(missing.stderr).toContain('no/such/file is not in snapshot');
    const json = await dumpBytes(['--repo', repo, '--json', 'latest', 'small.txt']);
    expect(json.code).toBe(EXIT.usage);
    expect(json.stderr).toContain('--json does not apply');
  });

  it('refuses a terminal on standard output', async () => {
    const src = await sourceTree();
    const repo = await backedUp(src);
    const screen = await runAtTerminal(
      `env CAIRN_PASSWORD= ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} dump latest big.bin --repo ${JSON.stringify(repo)}`,
    );
    expect(screen).toContain('dump writes binary data');
    expect(screen).toContain(`exit=${EXIT.usage}`);
  });
});
