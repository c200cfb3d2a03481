/**
 * Prune's candidate list (src/repo/prune-state.ts): written in parts as keys come,
 * named by `prune/candidates` only once every part is stored, read back part by part;
 * earlier marks' parts are removed; the list of older cairn (keys inline) still reads;
 * damaged lists fail with the object they came from.
 */
import { describe, expect, it } from 'vitest';
import type { CallOptions, PutOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { hasCode } from '../../src/core/errors.js';
import {
  CandidateWriter,
  candidateKeys,
  candidatePartKey,
  MAX_PART_BYTES,
  PART_KEYS,
  PRUNE_CANDIDATES_KEY,
  PRUNE_MARKS_PREFIX,
  type PruneCandidates,
  readCandidates,
  removeCandidates,
} from '../../src/repo/prune-state.js';

const TIME = '2026-11-22T10:00:00.000Z';

/** `n` distinct blob keys in key order (data keys, then tree keys). */
function blobKeys(n: number, kind: 'data' | 'tree' = 'data'): string[] {
  return Array.from({ length: n }, (_, i) => {
    const hex = i.toString(16).padStart(64, '0');
    return `${kind}/${hex.slice(0, 2)}/${hex}`;
  });
}

/** A backend whose puts or deletes of keys matching `dies` fail, as a killed process's would. */
class DyingBackend extends ForwardingBackend {
  dies: ((op: 'put' | 'delete', key: string) => boolean) | undefined;
  override put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    if (this.dies?.('put', key)) return Promise.reject(new Error(`killed before put ${key}`));
    return super.put(key, data, options);
  }
  override delete(key: string, options?: CallOptions): Promise<void> {
    if (this.dies?.('delete', key)) return Promise.reject(new Error(`killed before delete ${key}`));
    return super.delete(key, options);
  }
}

async function write(backend: MemoryBackend | DyingBackend, keys: string[], time = TIME) {
  const writer = new CandidateWriter(backend);
  for (const k of keys) await writer.add(k);
  return writer.finish(time);
}

async function readAll(
  backend: MemoryBackend | DyingBackend,
  c: PruneCandidates,
): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of candidateKeys(backend, c)) keys.push(k);
  return keys;
}

async function listed(backend: MemoryBackend | DyingBackend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list(prefix)) keys.push(info.key);
  return keys.sort();
}

async function formatError(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(hasCode(err, 'format')).toBe(true);
  return err as Error;
}

describe('prune candidate lists', () => {
  it('writes keys in parts of PART_KEYS, names them last, and reads them back in order', async () => {
    const backend = new MemoryBackend();
    const keys = [...blobKeys(2 * PART_KEYS + 5), ...blobKeys(3, 'tree')];
    const written = (await write(backend, keys))!;
    expect(written).toMatchObject({ time: TIME, count: keys.length, parts: 3 });
    expect(await readCandidates(backend)).toEqual(written);
    const parts = await listed(backend, PRUNE_MARKS_PREFIX);
    expect(parts).toEqual([0, 1, 2].map((i) => candidatePartKey(written.mark!, i)));
    // Each part is plain text, one key per line.
    const first = new TextDecoder().decode(await backend.get(parts[0]!));
    expect(first.split('\n')).toHaveLength(PART_KEYS + 1);
    expect(await readAll(backend, written)).toEqual(keys);
  });

  it('leaves the earlier list whole until the new one is complete, then removes its parts', async () => {
    const backend = new MemoryBackend();
    const older = (await write(backend, blobKeys(PART_KEYS + 1)))!;
    // A mark killed after writing a part: the older list still reads as it was.
    const killed = new CandidateWriter(backend);
    for (const k of blobKeys(PART_KEYS, 'tree')) await killed.add(k);
    expect(await readCandidates(backend)).toEqual(older);
    expect(await readAll(backend, older)).toEqual(blobKeys(PART_KEYS + 1));
    // The next mark publishes its list and removes every other mark's parts.
    const newer = (await write(backend, blobKeys(2, 'tree'), '2026-11-22T11:00:00.000Z'))!;
    expect(await readCandidates(backend)).toEqual(newer);
    expect(await listed(backend, PRUNE_MARKS_PREFIX)).toEqual([candidatePartKey(newer.mark!, 0)]);
    expect(await readAll(backend, newer)).toEqual(blobKeys(2, 'tree'));
  });

  it('names a list only once all its parts are stored, and drops the name before the parts', async () => {
    const backend = new DyingBackend(new MemoryBackend());
    const older = (await write(backend, blobKeys(3)))!;
    // Killed while finishing: its last part is never stored. The older list stands.
    backend.dies = (op, key) => op === 'put' && key.endsWith('/1');
    await expect(write(backend, blobKeys(PART_KEYS + 1, 'tree'))).rejects.toThrow(/killed/);
    expect(await readCandidates(backend)).toEqual(older);
    expect(await readAll(backend, older)).toEqual(blobKeys(3));
    // Killed while removing a list: the name goes first, so no list names missing parts.
    backend.dies = (op, key) => op === 'delete' && key.startsWith(PRUNE_MARKS_PREFIX);
    await expect(removeCandidates(backend)).rejects.toThrow(/killed/);
    expect(await readCandidates(backend)).toBeUndefined();
    // The parts left behind go with the next list.
    backend.dies = undefined;
    const next = (await write(backend, blobKeys(1)))!;
    expect(await listed(backend, PRUNE_MARKS_PREFIX)).toEqual([candidatePartKey(next.mark!, 0)]);
  });

  it('removes the list and every part when a mark finds nothing, or on removeCandidates', async () => {
    const backend = new MemoryBackend();
    await write(backend, blobKeys(3));
    expect(await write(backend, [])).toBeUndefined();
    expect(await readCandidates(backend)).toBeUndefined();
    expect(await listed(backend, 'prune/')).toEqual([]);
    await write(backend, blobKeys(3));
    await removeCandidates(backend);
    expect(await listed(backend, 'prune/')).toEqual([]);
  });

  it('reads the list of earlier versions, with every key inline', async () => {
    const backend = new MemoryBackend();
    const keys = blobKeys(4);
    await backend.put(
      PRUNE_CANDIDATES_KEY,
      new TextEncoder().encode(JSON.stringify({ time: TIME, keys })),
    );
    const c = (await readCandidates(backend))!;
    expect(c.count).toBe(4);
    expect(await readAll(backend, c)).toEqual(keys);
  });

  it('rejects damaged lists, naming the object', async () => {
    const backend = new MemoryBackend();
    const put = (key: string, text: string) => backend.put(key, new TextEncoder().encode(text));
    const c = (await write(backend, blobKeys(PART_KEYS + 2)))!;

    // A part missing.
    await backend.delete(candidatePartKey(c.mark!, 1));
    const missing = await formatError(readAll(backend, c));
    expect(missing.message).toContain(candidatePartKey(c.mark!, 1));

    // A part with something that is not a blob key.
    await put(candidatePartKey(c.mark!, 1), 'data/zz/not-a-key\n');
    expect((await formatError(readAll(backend, c))).message).toContain('not a blob key');

    // A part too large to be one, or with more keys than a part holds.
    await put(candidatePartKey(c.mark!, 1), 'x'.repeat(MAX_PART_BYTES + 1));
    expect((await formatError(readAll(backend, c))).message).toContain('bytes (at most');
    await put(candidatePartKey(c.mark!, 1), 'x\n'.repeat(PART_KEYS + 1));
    expect((await formatError(readAll(backend, c))).message).toContain('keys in a part');
    // A part before the last with fewer keys than a full part.
    await put(candidatePartKey(c.mark!, 0), `${blobKeys(PART_KEYS - 1).join('\n')}\n`);
    await put(candidatePartKey(c.mark!, 1), `${blobKeys(3).join('\n')}\n`);
    expect((await formatError(readAll(backend, c))).message).toContain('(exactly 65536)');
    await put(candidatePartKey(c.mark!, 0), `${blobKeys(PART_KEYS).join('\n')}\n`);

    // Parts that do not add up to the count.
    await put(candidatePartKey(c.mark!, 1), `${blobKeys(1)[0]}\n`);
    expect((await formatError(readAll(backend, { ...c, count: c.count + 1 }))).message).toContain(
      'its parts hold',
    );

    // Headers that cannot be right.
    for (const header of [
      'not json',
      JSON.stringify({ time: 'yesterday', count: 1, mark: c.mark, parts: 1 }),
      JSON.stringify({ time: TIME, count: PART_KEYS + 1, mark: c.mark, parts: 1 }),
      JSON.stringify({ time: TIME, count: 1, mark: c.mark, parts: 2 }),
      JSON.stringify({ time: TIME, count: 1, mark: '../x', parts: 1 }),
      JSON.stringify({ time: TIME, keys: ['data/../x'] }),
    ]) {
      await put(PRUNE_CANDIDATES_KEY, header);
      const err = await formatError(readCandidates(backend));
      expect(err.message).toContain(PRUNE_CANDIDATES_KEY);
    }
  });
});
