import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

const saved = { ...process.env };
afterEach(() => {
  for (const k of [
    'CAIRN_PASSWORD',
    'CAIRN_NEW_PASSWORD',
    'CAIRN_FROM_PASSWORD',
    'CAIRN_CACHE_DIR',
  ]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

async function setup() {
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  await writeTree(src, { 'hello.txt': 'hello, encrypted world\n'.repeat(50) });
  process.env.CAIRN_CACHE_DIR = await tempDir();
  return { repo, src };
}

describe('cairn with encryption', () => {
  it('init encrypts by default; backup and restore need the password', async () => {
    const { repo, src } = await setup();
    delete process.env.CAIRN_PASSWORD;
    const none = await cli('--repo', repo, 'init');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/CAIRN_PASSWORD/);

    process.env.CAIRN_PASSWORD = 'pw one';
    const init = await cli('--repo', repo, '--json', 'init');
    expect(init.code).toBe(0);
    expect(init.json[0]).toMatchObject({ encryption: 'aes-256-gcm', compression: 'auto' });
    expect(JSON.parse(await readFile(join(repo, 'config'), 'utf8'))).toMatchObject({
      encryption: 'aes-256-gcm',
    });
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);

    process.env.CAIRN_PASSWORD = 'not it';
    const wrong = await cli('--repo', repo, 'snapshots');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`cairn: ${repo}: wrong password: no key slot opens with it`);

    delete process.env.CAIRN_PASSWORD;
    const file = join(await tempDir(), 'pw');
    await writeFile(file, 'pw one\n');
    const target = await tempDir();
    const restored = await cli(
      '--repo',
      repo,
      '--password-file',
      file,
      'restore',
      'latest',
      '--target',
      target,
    );
    expect(restored.code).toBe(0);
    expect(await readFile(join(target, 'hello.txt'), 'utf8')).toMatch(/^hello, encrypted/);
    const viaCommand = await cli(
      '--repo',
      repo,
      '--password-command',
      'echo "pw one"',
      'check',
      '--read-data',
    );
    expect(viaCommand.code).toBe(0);
  });

  it('key list, add, remove and passwd; the last slot stays', async () => {
    const { repo } = await setup();
    process.env.CAIRN_PASSWORD = 'first';
    expect((await cli('--repo', repo, 'init')).code).toBe(0);
    const slots = async () =>
      (await cli('--repo', repo, '--json', 'key', 'list')).json.filter(
        (e) => e.type === 'key',
      ) as Array<{
        id: string;
        current: boolean;
      }>;
    const [first] = await slots();
    expect(first).toMatchObject({ current: true });

    process.env.CAIRN_NEW_PASSWORD = 'second';
    expect((await cli('--repo', repo, 'key', 'add')).code).toBe(0);
    expect((await slots()).length).toBe(2);

    // The current slot cannot be removed; with the other password it can.
    const self = await cli('--repo', repo, 'key', 'remove', first!.id.slice(0, 8));
    expect(self.code).toBe(2);
    process.env.CAIRN_PASSWORD = 'second';
    expect((await cli('--repo', repo, 'key', 'remove', first!.id.slice(0, 8))).code).toBe(0);
    const left = await slots();
    expect(left.length).toBe(1);
    const last = await cli('--repo', repo, 'key', 'remove', left[0]!.id);
    expect(last.code).toBe(2);
    expect(last.stderr).toMatch(/last one/);

    process.env.CAIRN_NEW_PASSWORD = 'third';
    expect((await cli('--repo', repo, 'key', 'passwd')).code).toBe(0);
    expect((await cli('--repo', repo, 'snapshots')).code).toBe(1);
    process.env.CAIRN_PASSWORD = 'third';
    expect((await cli('--repo', repo, 'snapshots')).code).toBe(0);
    expect((await readdir(join(repo, 'keys'))).length).toBe(1);

    const plain = join(await tempDir(), 'plain');
    expect((await cli('--repo', plain, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', plain, 'key', 'list')).stderr).toMatch(/not encrypted/);
  });

  it('two key removes at once, each of the slot the other opens with, leave a slot', async () => {
    const { repo } = await setup();
    const dir = await tempDir();
    const files = { a: join(dir, 'a'), b: join(dir, 'b') };
    await writeFile(files.a, 'password a\n');
    await writeFile(files.b, 'password b\n');
    delete process.env.CAIRN_PASSWORD;
    expect((await cli('--repo', repo, '--password-file', files.a, 'init')).code).toBe(0);
    process.env.CAIRN_NEW_PASSWORD = 'password b';
    expect((await cli('--repo', repo, '--password-file', files.a, 'key', 'add')).code).toBe(0);
    const current = async (file: string) =>
      (await cli('--repo', repo, '--password-file', file, '--json', 'key', 'list')).json.find(
        (e) => e.type === 'key' && e.current,
      )?.id as string;
    const slotA = await current(files.a);
    const slotB = await current(files.b);
    const [byA, byB] = await Promise.all([
      cli('--repo', repo, '--password-file', files.a, 'key', 'remove', slotB),
      cli('--repo', repo, '--password-file', files.b, 'key', 'remove', slotA),
    ]);
    // At most one goes ahead; the other is refused while the first holds the lock.
    expect([byA.code, byB.code].filter((c) => c === 0).length).toBeLessThanOrEqual(1);
    for (const r of [byA, byB])
      if (r.code !== 0) expect(r.stderr).toMatch(/locked|removed meanwhile/);
    const left = await readdir(join(repo, 'keys'));
    expect(left.length).toBeGreaterThanOrEqual(1);
    const opens = await Promise.all(
      [files.a, files.b].map(
        async (f) => (await cli('--repo', repo, '--password-file', f, 'snapshots')).code,
      ),
    );
    expect(opens).toContain(0);
  });

  it('a damaged key slot locks nobody out; key list shows it and key remove takes it away', async () => {
    const { repo } = await setup();
    process.env.CAIRN_PASSWORD = 'first';
    expect((await cli('--repo', repo, 'init')).code).toBe(0);
    const slotOf = new Map<string, string>();
    const list0 = await cli('--repo', repo, '--json', 'key', 'list');
    slotOf.set('first', list0.json.find((e) => e.type === 'key')!.id as string);
    for (const pw of ['second', 'third']) {
      process.env.CAIRN_NEW_PASSWORD = pw;
      const add = await cli('--repo', repo, '--json', 'key', 'add');
      expect(add.json.at(-1)).toMatchObject({ type: 'summary', operation: 'key add' });
      slotOf.set(pw, add.json.at(-1)!.id as string);
    }
    // The slot listed first is overwritten, so every other password is tried after it
    // (before, the first bad slot ended every attempt).
    const [lost, damagedId] = [...slotOf].sort((a, b) => a[1].localeCompare(b[1]))[0]!;
    await writeFile(join(repo, 'keys', damagedId), 'junk');
    const alive = [...slotOf.keys()].filter((pw) => pw !== lost);
    for (const pw of alive) {
      process.env.CAIRN_PASSWORD = pw;
      const r = await cli('--repo', repo, 'snapshots');
      expect(r.code, `${pw}: ${r.stderr}`).toBe(0);
    }
    process.env.CAIRN_PASSWORD = 'wrong';
    const wrong = await cli('--repo', repo, 'snapshots');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('wrong password: no key slot opens with it');
    expect(wrong.stderr).toContain(`1 damaged slot(s) could not be tried: keys/${damagedId}`);

    process.env.CAIRN_PASSWORD = alive[0]!;
    const list = await cli('--repo', repo, '--json', 'key', 'list');
    expect(list.code).toBe(3);
    const damaged = list.json.filter((e) => e.type === 'key' && e.damaged);
    expect(damaged.map((e) => e.id)).toEqual([damagedId]);
    expect(list.json.at(-1)).toMatchObject({ type: 'summary', keys: 3, damaged: 1 });
    const text = await cli('--repo', repo, 'key', 'list');
    expect(text.stdout).toContain('damaged: cannot be read');
    expect(text.stderr).toContain(`cairn key remove ${damagedId.slice(0, 8)}`);
    // check names it too (a password kept only in it is lost), and passes once it is gone.
    const checked = await cli('--repo', repo, 'check');
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain(`error: keys/${damagedId}: the key slot is not valid JSON`);
    expect(checked.stdout).toContain(`cairn key remove ${damagedId.slice(0, 8)}`);
    const removed = await cli('--repo', repo, '--json', 'key', 'remove', damagedId.slice(0, 8));
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.json.at(-1)).toMatchObject({ type: 'summary', operation: 'key remove' });
    expect((await cli('--repo', repo, 'key', 'list')).code).toBe(0);
    expect((await cli('--repo', repo, 'check')).code).toBe(0);
  });

  it('a slot asking for more scrypt work than cairn sets is damaged, not tried', async () => {
    const { repo } = await setup();
    process.env.CAIRN_PASSWORD = 'only';
    expect((await cli('--repo', repo, 'init')).code).toBe(0);
    // A slot listed first that would make every open derive a 4 GiB key.
    const heavy = join(repo, 'keys', '0'.repeat(64));
    await writeFile(
      heavy,
      JSON.stringify({
        cairn: 'key',
        version: 1,
        cipher: 'aes-256-gcm',
        kdf: { name: 'scrypt', logN: 20, r: 32, p: 16, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' },
        data: 'AAAA',
      }),
    );
    const r = await cli('--repo', repo, '--json', 'key', 'list');
    expect(r.code).toBe(3);
    expect(r.json.find((e) => e.id === '0'.repeat(64))).toMatchObject({
      damaged: expect.stringContaining('more scrypt work than cairn ever sets'),
    });
  });

  it('a password option wins over the environment, and an empty variable counts as unset', async () => {
    const { repo } = await setup();
    process.env.CAIRN_PASSWORD = 'right';
    expect((await cli('--repo', repo, 'init')).code).toBe(0);
    const file = join(await tempDir(), 'pw');
    await writeFile(file, 'right\n');
    for (const env of ['', 'a stale one']) {
      process.env.CAIRN_PASSWORD = env;
      const r = await cli('--repo', repo, '--password-file', file, 'snapshots');
      expect(r.code, `CAIRN_PASSWORD=${JSON.stringify(env)}: ${r.stderr}`).toBe(0);
    }
    process.env.CAIRN_PASSWORD = '';
    const none = await cli('--repo', repo, 'snapshots');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no password was given');
    const empty = join(await tempDir(), 'empty');
    await writeFile(empty, '\n');
    const fromEmpty = await cli('--repo', repo, '--password-file', empty, 'snapshots');
    expect(fromEmpty.code).toBe(2);
    expect(fromEmpty.stderr).toContain('the file holds no password');
    const silent = await cli('--repo', repo, '--password-command', 'true', 'snapshots');
    expect(silent.code).toBe(2);
    expect(silent.stderr).toContain('--password-command printed no password');
    // A command that fails is no usage error: exit 1, with its exit status.
    const failing = await cli('--repo', repo, '--password-command', 'exit 3', 'snapshots');
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain('--password-command failed: "exit 3" exited with status 3');
  });

  it('init --copy-params-from an encrypted repository lets sync deduplicate', async () => {
    const { repo, src } = await setup();
    process.env.CAIRN_PASSWORD = 'source pw';
    expect((await cli('--repo', repo, 'init', '--compression', 'off')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    const dst = join(await tempDir(), 'dst');
    process.env.CAIRN_FROM_PASSWORD = 'source pw';
    process.env.CAIRN_PASSWORD = 'dest pw';
    const refused = await cli('--repo', dst, 'init', '--no-encryption', '--copy-params-from', repo);
    expect(refused.code).toBe(2);
    expect((await cli('--repo', dst, 'init', '--copy-params-from', repo)).code).toBe(0);
    const s = await cli('--json', 'sync', repo, dst);
    expect(s.code).toBe(0);
    expect((s.json.at(-1)!.copied as string[]).length).toBe(1);
    const again = await cli('--json', 'sync', repo, dst);
    expect(again.json.at(-1)).toMatchObject({ copied: [], blobsSent: 0 });
    const other = join(await tempDir(), 'other');
    expect((await cli('--repo', other, 'init')).code).toBe(0);
    const mismatch = await cli('sync', repo, other);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/different id keys/);
  });
});
