/**
 * The config is the one object not sealed: rewritten to say `encryption: none` by
 * someone who can write to the storage, it must not make later backups go out in the
 * clear. Key slots beside such a config give it away, and the open is refused; with
 * the key slots deleted too, the caller's expectation (a password given) or this
 * machine's record of the repository (known-repos.ts) does.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { KEYS_PREFIX } from '../../src/repo/key-slots.js';
import { KnownRepositories } from '../../src/repo/known-repos.js';
import { CONFIG_KEY } from '../../src/repo/layout.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';
import { tempDir } from '../helpers/fs.js';

const encrypted = { encryption: { password: 'pw', kdfLogN: 10 } };

async function allKeys(backend: MemoryBackend): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list('')) keys.push(info.key);
  return keys.sort();
}

/** The stored config, rewritten by `change`. */
async function rewriteConfig(
  backend: MemoryBackend,
  change: (c: Record<string, unknown>) => void,
): Promise<void> {
  const config = JSON.parse(Buffer.from(await backend.get(CONFIG_KEY)).toString('utf8'));
  change(config);
  await backend.delete(CONFIG_KEY);
  await backend.put(CONFIG_KEY, Buffer.from(JSON.stringify(config)));
}

describe('a config rewritten to say the repository is not encrypted', () => {
  it('is refused while key slots are there, naming the config and the cause', async () => {
    const backend = new MemoryBackend();
    await (await initRepository(backend, encrypted)).close();
    await rewriteConfig(backend, (c) => {
      c.encryption = 'none';
      c.ids = 'sha256';
    });
    const keysBefore = await allKeys(backend);
    for (const options of [{}, { password: 'pw' }]) {
      const opening = openRepositoryIn(backend, options);
      await expect(opening).rejects.toMatchObject({ code: 'format' });
      await expect(opening).rejects.toThrow(
        /config: says the repository is not encrypted, but it holds key slots/,
      );
    }
    expect(await allKeys(backend)).toEqual(keysBefore);
  });

  it('does not stop an unencrypted repository from opening', async () => {
    const backend = new MemoryBackend();
    await (await initRepository(backend, {})).close();
    const repo = await openRepositoryIn(backend);
    expect(repo.config.encryption).toBe('none');
    await repo.close();
  });
});

/** An encrypted repository whose config was rewritten to `none` and key slots deleted. */
async function downgradedWithoutSlots(backend: MemoryBackend): Promise<void> {
  await rewriteConfig(backend, (c) => {
    c.encryption = 'none';
    c.ids = 'sha256';
  });
  for await (const info of backend.list(KEYS_PREFIX)) await backend.delete(info.key);
}

describe('a config rewritten to none with the key slots deleted too', () => {
  it('opens as unencrypted when nothing says otherwise (the limit of the storage alone)', async () => {
    const backend = new MemoryBackend();
    await (await initRepository(backend, encrypted)).close();
    await downgradedWithoutSlots(backend);
    const repo = await openRepositoryIn(backend);
    expect(repo.config.encryption).toBe('none');
    await repo.close();
  });

  it('is refused when the caller expects encryption, with its reason', async () => {
    const backend = new MemoryBackend();
    await (await initRepository(backend, encrypted)).close();
    await downgradedWithoutSlots(backend);
    const opening = openRepositoryIn(backend, { expectEncrypted: 'a password was given (X)' });
    await expect(opening).rejects.toMatchObject({ code: 'format' });
    await expect(opening).rejects.toThrow(
      /config: says the repository is not encrypted, but a password was given \(X\)/,
    );
  });

  it('is refused when this machine opened it encrypted before, by id or by location', async () => {
    const known = new KnownRepositories(await tempDir());
    const backend = new MemoryBackend('memory:first');
    const repo = await initRepository(backend, encrypted);
    const id = repo.config.id;
    await repo.close();
    // Opening with the password records it.
    await (await openRepositoryIn(backend, { password: 'pw', known })).close();
    await downgradedWithoutSlots(backend);
    const opening = openRepositoryIn(backend, { known });
    await expect(opening).rejects.toMatchObject({ code: 'format' });
    await expect(opening).rejects.toThrow(`this location held an encrypted repository (${id})`);
    // The same repository reached at another location: its id gives it away.
    const moved = new MemoryBackend('memory:moved');
    for await (const info of backend.list('')) {
      await moved.put(info.key, await backend.get(info.key));
    }
    await expect(openRepositoryIn(moved, { known })).rejects.toThrow(
      `this machine opened repository ${id} encrypted before at memory:first`,
    );
    // Expecting encryption too: the record's message, which says more, comes first.
    await expect(
      openRepositoryIn(backend, { known, expectEncrypted: 'a password was given' }),
    ).rejects.toThrow('this location held an encrypted repository');

    // A new unencrypted repository in its place (a new id): the location gives it away.
    const replaced = new MemoryBackend(backend.location);
    await (await initRepository(replaced, {})).close();
    await expect(openRepositoryIn(replaced, { known })).rejects.toThrow(
      `this location held an encrypted repository (${id})`,
    );
    // Elsewhere, an unencrypted repository opens as ever.
    const other = new MemoryBackend('memory:other');
    await (await initRepository(other, {})).close();
    await (await openRepositoryIn(other, { known })).close();
  });
});
