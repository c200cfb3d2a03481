import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { AuthError, IntegrityError, MismatchError } from '../../src/core/errors.js';
import { sha256Hex } from '../../src/core/ids.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { sync } from '../../src/ops/sync.js';
import { paramsOf } from '../../src/repo/config.js';
import { addKeySlot, listKeySlots, removeKeySlot } from '../../src/repo/key-slots.js';
import { initRepository, openRepositoryIn, type Repository } from '../../src/repo/repository.js';
import { describeTree, pseudoRandomBytes, tempDir, writeTree } from '../helpers/fs.js';
import { TINY_CHUNKS } from '../helpers/repo.js';

const PASSWORD = 'correct horse battery staple';
/** Cheap scrypt for tests (the default is 2^15). */
const FAST_KDF = 10;
const NAME_MARKER = 'SECRETNAMEMARKER';
const CONTENT_MARKER = 'SECRETCONTENTMARKER';

async function encryptedRepo(dir: string, password = PASSWORD): Promise<Repository> {
  return initRepository(new LocalBackend(dir), {
    chunker: TINY_CHUNKS,
    inlineMax: 32,
    encryption: { password, kdfLogN: FAST_KDF },
  });
}

async function writeSecrets(src: string): Promise<void> {
  const text = `${CONTENT_MARKER} `.repeat(300);
  await writeTree(src, {
    [`${NAME_MARKER}.txt`]: text,
    small: { [`${NAME_MARKER}-inline`]: CONTENT_MARKER },
    'random.bin': pseudoRandomBytes(20_000, 7),
  });
}

/** Every stored file of a local repository, by relative path. */
async function storedFiles(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (rel: string) => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path);
      else out.set(path, await readFile(join(dir, path)));
    }
  };
  await walk('');
  return out;
}

async function backupOnce(repo: Repository, src: string) {
  const r = await backup(repo, { paths: [src], statCacheDir: false });
  return { id: r.snapshotId!, snapshot: r.snapshot };
}

describe('encrypted repositories', () => {
  it('round-trips a backup and restore, and stores no plaintext name, content or hash', async () => {
    const [dir, src, target] = [await tempDir(), await tempDir(), await tempDir()];
    await writeSecrets(src);
    const repo = await encryptedRepo(dir);
    const { id, snapshot } = await backupOnce(repo, src);
    await restore(repo, id, snapshot, { target });
    const name = src.split('/').at(-1)!;
    expect(await describeTree(target)).toEqual(await describeTree(src));

    const files = await storedFiles(dir);
    const config = JSON.parse(files.get('config')!.toString('utf8'));
    expect(config).toMatchObject({ encryption: 'aes-256-gcm', ids: 'hmac-sha256' });
    expect(config.chunker.seed).toBe('0');
    expect(repo.config.chunker.seed).not.toBe(0n);
    const plainIds = [sha256Hex(Buffer.from(`${CONTENT_MARKER} `.repeat(300)))];
    for (const [path, bytes] of files) {
      for (const marker of [NAME_MARKER, CONTENT_MARKER, name, ...plainIds]) {
        expect(path.includes(marker), `${path} names ${marker}`).toBe(false);
        expect(bytes.includes(Buffer.from(marker)), `${path} holds ${marker}`).toBe(false);
      }
      if (path !== 'config' && !path.startsWith('keys/') && !path.startsWith('index/keys')) {
        expect(bytes[3], `${path} encryption codec`).toBe(1);
      }
    }
    await repo.close();

    // Reopened with the password, the data reads back.
    const again = await openRepositoryIn(new LocalBackend(dir), { password: PASSWORD });
    expect((await again.snapshots.list()).map((r) => r.id)).toEqual([id]);
    expect(again.config.chunker.seed).toBe(repo.config.chunker.seed);
  });

  it('gives keyed ids, not SHA-256, and different ones per repository', async () => {
    const a = await encryptedRepo(await tempDir());
    const b = await encryptedRepo(await tempDir());
    const data = Buffer.from('same bytes');
    expect(a.codec.idOf(data)).toMatch(/^[0-9a-f]{64}$/);
    expect(a.codec.idOf(data)).not.toBe(sha256Hex(data));
    expect(a.codec.idOf(data)).not.toBe(b.codec.idOf(data));
    const put = await a.blobs.put('data', data);
    expect(put.id).toBe(a.codec.idOf(data));
    expect(await a.blobs.get('data', put.id)).toEqual(data);
  });

  it('refuses a wrong password with AuthError and writes nothing', async () => {
    const dir = await tempDir();
    const src = await tempDir();
    await writeSecrets(src);
    const repo = await encryptedRepo(dir);
    await backupOnce(repo, src);
    await repo.close();
    const before = await storedFiles(dir);
    const err = await openRepositoryIn(new LocalBackend(dir), { password: 'wrong' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toBe('wrong password: no key slot opens with it');
    await expect(openRepositoryIn(new LocalBackend(dir))).rejects.toThrow(/encrypted/);
    expect(await storedFiles(dir)).toEqual(before);
  });

  it.each(['data', 'tree', 'snapshots'])('detects a flipped byte in a %s object', async (kind) => {
    const dir = await tempDir();
    const src = await tempDir();
    await writeSecrets(src);
    const repo = await encryptedRepo(dir);
    const { id } = await backupOnce(repo, src);
    await repo.close();
    const victim = [...(await storedFiles(dir)).keys()].find((p) => p.startsWith(`${kind}/`))!;
    const bytes = await readFile(join(dir, victim));
    bytes[bytes.length - 20]! ^= 0x01;
    await writeFile(join(dir, victim), bytes);
    const victimId = victim.split('/').at(-1)!;

    const reopened = await openRepositoryIn(new LocalBackend(dir), { password: PASSWORD });
    const attempt = async () => {
      if (kind === 'snapshots') return reopened.snapshots.load(id);
      const kindName = kind as 'data' | 'tree';
      return reopened.blobStore().get(kindName, victimId);
    };
    const err = await attempt().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toContain(victimId);
    expect((err as Error).message).toMatch(/authentication/);
  });

  it('refuses an unencrypted object substituted into an encrypted repository', async () => {
    const dir = await tempDir();
    const repo = await encryptedRepo(dir);
    const { id } = await repo.blobs.put('data', Buffer.from('hello world'));
    const path = join(dir, 'data', id.slice(0, 2), id);
    await writeFile(path, Buffer.concat([Buffer.of(0xca, 1, 0, 0), Buffer.from('evil')]));
    const err = await repo
      .blobStore()
      .get('data', id)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toContain(id);
  });

  it('keeps key slots: add, open with either, remove, never the last', async () => {
    const backend = new MemoryBackend();
    const repo = await initRepository(backend, {
      encryption: { password: PASSWORD, kdfLogN: FAST_KDF },
    });
    const second = await addKeySlot(backend, repo.config.id, repo.keys!, 'second', {
      logN: FAST_KDF,
    });
    expect((await listKeySlots(backend)).map((s) => s.id).sort()).toEqual(
      [repo.keySlot!, second].sort(),
    );
    const viaSecond = await openRepositoryIn(backend, { password: 'second' });
    expect(viaSecond.keySlot).toBe(second);
    expect(viaSecond.keys!.idKey).toEqual(repo.keys!.idKey);
    await removeKeySlot(backend, repo.keySlot!);
    await expect(openRepositoryIn(backend, { password: PASSWORD })).rejects.toBeInstanceOf(
      AuthError,
    );
    await expect(removeKeySlot(backend, second)).rejects.toThrow(/last one/);
    expect((await listKeySlots(backend)).length).toBe(1);
  });

  it('syncs between encrypted repositories sharing ids (copy-params), deduplicating', async () => {
    const src = await tempDir();
    await writeSecrets(src);
    const a = await encryptedRepo(await tempDir());
    await backupOnce(a, src);
    const b = await initRepository(new MemoryBackend(), {
      ...paramsOf(a.config),
      encryption: { password: 'other', shareWith: a.keys!, kdfLogN: FAST_KDF },
    });
    expect(b.keys!.encryptionKey).not.toEqual(a.keys!.encryptionKey);
    expect(b.config.chunker.seed).toBe(a.config.chunker.seed);
    // The destination backs up the same data itself first: sync then sends no data blob.
    await backupOnce(b, src);
    const report = await sync(a, b);
    expect(report.copied.length).toBe(1);
    expect(report.dataBlobsSent).toBe(0);
    const copied = await b.snapshots.load(report.copied[0]!);
    const target = await tempDir();
    await restore(b, report.copied[0]!, copied, { target });
    expect(await describeTree(target)).toEqual(await describeTree(src));
  });

  it('refuses to sync between repositories whose ids differ', async () => {
    const src = await tempDir();
    await writeSecrets(src);
    const a = await encryptedRepo(await tempDir());
    await backupOnce(a, src);
    const otherKeys = await initRepository(new MemoryBackend(), {
      ...paramsOf(a.config),
      encryption: { password: PASSWORD, kdfLogN: FAST_KDF },
    });
    await expect(sync(a, otherKeys)).rejects.toBeInstanceOf(MismatchError);
    await expect(sync(a, otherKeys)).rejects.toThrow(/different id keys/);
    const plain = await initRepository(new MemoryBackend(), paramsOf(a.config));
    await expect(sync(a, plain)).rejects.toThrow(/not encrypted/);
  });
});
