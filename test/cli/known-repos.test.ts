/**
 * An encrypted repository whose config was rewritten to `encryption: none` and whose
 * key slots were deleted (by someone who can write to the storage, without the
 * password) must not take the next backup in the clear. The CLI refuses it when this
 * machine opened it encrypted before, and when a password is given for it; and only
 * then: unencrypted repositories work as ever without a password.
 */

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KnownRepositories } from '../../src/repo/known-repos.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

const VARS = ['CAIRN_PASSWORD', 'CAIRN_FROM_PASSWORD', 'CAIRN_STATE_DIR', 'CAIRN_CACHE_DIR'];
let saved: Record<string, string | undefined>;

beforeEach(async () => {
  saved = Object.fromEntries(VARS.map((k) => [k, process.env[k]]));
  for (const k of VARS) delete process.env[k];
  process.env.CAIRN_CACHE_DIR = await tempDir();
  process.env.CAIRN_STATE_DIR = await tempDir();
});

afterEach(() => {
  for (const k of VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** An encrypted repository with one snapshot; returns its location and id. */
async function encryptedRepo(): Promise<{ repo: string; id: string }> {
  const repo = join(await tempDir(), 'repo');
  const src = await tempDir();
  await writeFile(join(src, 'secret.txt'), 'the plans');
  process.env.CAIRN_PASSWORD = 'pw';
  expect((await cli('--repo', repo, 'init')).code).toBe(0);
  expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
  delete process.env.CAIRN_PASSWORD;
  const config = JSON.parse(await readFile(join(repo, 'config'), 'utf8'));
  return { repo, id: config.id };
}

/**
 * What someone with write access and no password can do: say `none`, drop the slots
 * (and give the config another id, if `newId`).
 */
async function downgrade(repo: string, newId?: string): Promise<void> {
  const file = join(repo, 'config');
  const config = JSON.parse(await readFile(file, 'utf8'));
  if (newId) config.id = newId;
  config.encryption = 'none';
  config.ids = 'sha256';
  await writeFile(file, JSON.stringify(config));
  await rm(join(repo, 'keys'), { recursive: true });
}

describe('a downgraded repository (config says none, key slots deleted)', () => {
  it('is refused on a machine that opened it encrypted, naming the record to remove', async () => {
    const { repo, id } = await encryptedRepo();
    await downgrade(repo);
    const src = await tempDir();
    await writeFile(join(src, 'more.txt'), 'more plans');
    const mark = new KnownRepositories(process.env.CAIRN_STATE_DIR).markOfLocation(repo);
    for (const args of [['backup', src], ['snapshots']]) {
      const run = await cli('--repo', repo, ...args);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `${repo}/config: says the repository (${id}) is not encrypted, but this location held an encrypted repository (${id}) when this machine opened it at ${repo}`,
      );
      expect(run.stderr).toContain(`remove ${mark}`);
    }
    // Nothing was written in the clear: the one snapshot is the encrypted one.
    expect(await readdir(join(repo, 'snapshots'))).toHaveLength(1);
  });

  it('is refused on another machine when a password is given for it', async () => {
    const { repo } = await encryptedRepo();
    await downgrade(repo);
    process.env.CAIRN_STATE_DIR = await tempDir(); // a machine with no record
    const file = join(await tempDir(), 'pw');
    writeFileSync(file, 'pw\n');
    for (const [given, args] of [
      ['--password-file', ['--password-file', file, 'snapshots']],
      ['--password-command', ['--password-command', 'echo pw', 'snapshots']],
    ] as const) {
      const run = await cli('--repo', repo, ...args);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `${repo}/config: says the repository is not encrypted, but a password was given for it (${given}; an unencrypted repository is used without one: leave out ${given})`,
      );
    }
    process.env.CAIRN_PASSWORD = 'pw';
    const run = await cli('--repo', repo, 'snapshots');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'a password was given for it (CAIRN_PASSWORD; an unencrypted repository is used without one: CAIRN_PASSWORD= cairn ...)',
    );
    // An empty variable is no password: then nothing tells it apart (docs/security.md),
    // and it opens; its sealed snapshot records cannot be read (exit 3, warnings).
    process.env.CAIRN_PASSWORD = '';
    const opened = await cli('--repo', repo, 'snapshots');
    expect(opened.code).toBe(3);
    expect(opened.stderr).not.toContain('refusing');
  });

  it('is refused when a new unencrypted repository was put where it was', async () => {
    const { repo, id } = await encryptedRepo();
    await rm(repo, { recursive: true });
    // Made elsewhere (another machine) and copied in: this machine has no record of it.
    const elsewhere = join(await tempDir(), 'repo');
    const stateHere = process.env.CAIRN_STATE_DIR;
    process.env.CAIRN_STATE_DIR = await tempDir();
    expect((await cli('--repo', elsewhere, 'init', '--no-encryption')).code).toBe(0);
    process.env.CAIRN_STATE_DIR = stateHere;
    await cp(elsewhere, repo, { recursive: true });
    const run = await cli('--repo', repo, 'snapshots');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`this location held an encrypted repository (${id})`);
  });
});

describe('the record of this machine', () => {
  it('is made by opening with the password too, not only by init', async () => {
    const stateHere = process.env.CAIRN_STATE_DIR;
    process.env.CAIRN_STATE_DIR = await tempDir(); // init ran on another machine
    const { repo, id } = await encryptedRepo();
    process.env.CAIRN_STATE_DIR = stateHere;
    process.env.CAIRN_PASSWORD = 'pw';
    expect((await cli('--repo', repo, 'snapshots')).code).toBe(0);
    delete process.env.CAIRN_PASSWORD;
    await downgrade(repo);
    const run = await cli('--repo', repo, 'snapshots');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`this location held an encrypted repository (${id})`);
  });

  it('knows a local repository reached through a symlink, whatever id the config claims', async () => {
    const { repo, id } = await encryptedRepo();
    const link = join(await tempDir(), 'link');
    await symlink(dirname(repo), link);
    await downgrade(repo, randomBytes(32).toString('hex'));
    const run = await cli('--repo', join(link, 'repo'), 'snapshots');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`this location held an encrypted repository (${id})`);
  });

  it('that cannot be written is said; one that cannot be read refuses', async () => {
    const notAFolder = join(await tempDir(), 'state');
    await writeFile(notAFolder, 'a file where the folder goes');
    process.env.CAIRN_STATE_DIR = notAFolder;
    const { repo } = await encryptedRepo();
    process.env.CAIRN_PASSWORD = 'pw';
    const opened = await cli('--repo', repo, 'snapshots');
    expect(opened.code).toBe(0);
    expect(opened.stderr).toContain(
      `note: cannot record in ${notAFolder} that ${repo} is encrypted (ENOTDIR`,
    );
    delete process.env.CAIRN_PASSWORD;
    await downgrade(repo);
    const refused = await cli('--repo', repo, 'snapshots');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "this machine's record of encrypted repositories cannot be read to tell whether it was",
    );
  });
});

describe('unencrypted repositories', () => {
  it('made by init here, where an encrypted one was, open without complaint', async () => {
    const { repo } = await encryptedRepo();
    await rm(repo, { recursive: true });
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', repo, 'snapshots')).code).toBe(0);
  });

  it('are refused while a password is given, and init says so', async () => {
    const repo = join(await tempDir(), 'repo');
    process.env.CAIRN_PASSWORD = 'pw';
    const init = await cli('--repo', repo, 'init', '--no-encryption');
    expect(init.code).toBe(0);
    expect(init.stderr).toContain(
      'note: CAIRN_PASSWORD is set, and commands refuse an unencrypted repository a password is given for',
    );
    expect((await cli('--repo', repo, 'snapshots')).code).toBe(1);
    delete process.env.CAIRN_PASSWORD;
    expect((await cli('--repo', repo, 'snapshots')).code).toBe(0);
  });

  it('sync: a password the encrypted source takes says nothing of the destination', async () => {
    const { repo: src } = await encryptedRepo();
    const dst = join(await tempDir(), 'dst');
    expect((await cli('--repo', dst, 'init', '--no-encryption')).code).toBe(0);
    // CAIRN_PASSWORD serves the source (no password of its own): the destination is
    // judged on its own, and refused for what it is (it cannot take encrypted data).
    process.env.CAIRN_PASSWORD = 'pw';
    const mismatch = await cli('sync', src, dst);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain('they name objects differently');
    expect(mismatch.stderr).not.toContain('a password was given');
    // With the source's own password given, CAIRN_PASSWORD is the destination's.
    process.env.CAIRN_FROM_PASSWORD = 'pw';
    const refused = await cli('sync', src, dst);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `${dst}/config: says the repository is not encrypted, but a password was given for it (CAIRN_PASSWORD; an unencrypted repository is used without one: CAIRN_PASSWORD= cairn ...)`,
    );
    // A source password given for an unencrypted source is refused the same way.
    delete process.env.CAIRN_PASSWORD;
    const back = await cli('sync', dst, src);
    expect(back.code).toBe(1);
    expect(back.stderr).toContain(
      `${dst}/config: says the repository is not encrypted, but a password was given for it (CAIRN_FROM_PASSWORD; an unencrypted repository is used without one: CAIRN_FROM_PASSWORD= cairn ...)`,
    );
  });
});
