/**
 * The config is the one object not sealed: rewritten to say `encryption: none` by
 * someone who can write to the storage, it must not make later backups go out in the
 * clear. Key slots beside such a config give it away, and the open is refused.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { CONFIG_KEY } from '../../src/repo/layout.js';
import { initRepository, openRepositoryIn } from '../../src/repo/repository.js';

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
