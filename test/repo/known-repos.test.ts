/** The record of encrypted repositories this machine opened (src/repo/known-repos.ts). */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KnownRepositories, stateRoot } from '../../src/repo/known-repos.js';
import { tempDir } from '../helpers/fs.js';

const ID = 'a'.repeat(64);
const OTHER_ID = 'b'.repeat(64);

describe('KnownRepositories', () => {
  it('refuses an id or a location it recorded, and nothing else', async () => {
    const known = new KnownRepositories(await tempDir());
    known.refuseIfEncryptedBefore('/r', ID); // nothing recorded yet
    expect(known.rememberEncrypted('/r', ID)).toBe(true);
    expect(() => known.refuseIfEncryptedBefore('/elsewhere', ID)).toThrow(
      `/elsewhere/config: says the repository is not encrypted, but this machine opened repository ${ID} encrypted before at /r`,
    );
    expect(() => known.refuseIfEncryptedBefore('/r', OTHER_ID)).toThrow(
      `/r/config: says the repository (${OTHER_ID}) is not encrypted, but this location held an encrypted repository (${ID})`,
    );
    known.refuseIfEncryptedBefore('/elsewhere', OTHER_ID);
  });

  it('keeps the first record, and forgets a location only when told', async () => {
    const known = new KnownRepositories(await tempDir());
    known.rememberEncrypted('/r', ID);
    const first = readFileSync(known.markOfId(ID), 'utf8');
    await new Promise((resolve) => setTimeout(resolve, 5));
    known.rememberEncrypted('/r', ID);
    expect(readFileSync(known.markOfId(ID), 'utf8')).toBe(first);
    expect(known.forgetLocation('/r')).toBe(true);
    known.refuseIfEncryptedBefore('/r', OTHER_ID);
    // The id's own mark stays: that repository, wherever it is, was encrypted.
    expect(() => known.refuseIfEncryptedBefore('/r', ID)).toThrow('encrypted before');
  });

  it('refuses on a damaged mark too: its existence is what counts', async () => {
    const known = new KnownRepositories(await tempDir());
    mkdirSync(known.dir, { recursive: true });
    writeFileSync(known.markOfId(ID), '{not json');
    expect(() => known.refuseIfEncryptedBefore('/r', ID)).toThrow(
      `/r/config: says the repository is not encrypted, but this machine opened repository ${ID} encrypted before: `,
    );
  });

  it('reports a record it cannot write instead of throwing', async () => {
    const state = await tempDir();
    writeFileSync(join(state, 'encrypted'), 'a file where the folder goes');
    const failures: string[] = [];
    const known = new KnownRepositories(state, (location, err) =>
      failures.push(`${location}: ${(err as NodeJS.ErrnoException).code}`),
    );
    expect(known.rememberEncrypted('/r', ID)).toBe(false);
    expect(failures).toEqual(['/r: EEXIST']); // mkdir of a folder where a file is
    const readOnly = await tempDir();
    chmodSync(readOnly, 0o500);
    // (root writes anyway: then the record is simply made.)
    const made = new KnownRepositories(join(readOnly, 'state')).rememberEncrypted('/r', ID);
    expect(made).toBe(process.getuid?.() === 0);
  });

  it('lives in CAIRN_STATE_DIR, else XDG_STATE_HOME/cairn, else ~/.local/state/cairn', () => {
    expect(stateRoot({ CAIRN_STATE_DIR: '/s', XDG_STATE_HOME: '/x' })).toBe('/s');
    expect(stateRoot({ XDG_STATE_HOME: '/x' })).toBe('/x/cairn');
    expect(stateRoot({})).toMatch(/\/\.local\/state\/cairn$/);
    // Relative: CAIRN_STATE_DIR is made absolute (not read anew in each folder), a
    // relative XDG_STATE_HOME is ignored, as the XDG spec says.
    expect(stateRoot({ CAIRN_STATE_DIR: 'st' })).toBe(join(process.cwd(), 'st'));
    expect(stateRoot({ XDG_STATE_HOME: 'x' })).toMatch(/\/\.local\/state\/cairn$/);
  });
});
