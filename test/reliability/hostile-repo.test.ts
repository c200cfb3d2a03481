/**
 * Hostile repositories: tree nodes and snapshot records crafted by hand (valid envelopes
 * and ids, malicious content) and stored into a real repository. Restoring them gives a
 * clear format, integrity or not-found error, never writes outside the target (the
 * target's parent is compared before and after), and never allocates without bound.
 *
 * (Decoder unit cases and byte-level fuzzing of trees and snapshots are in
 * test/manifest/codec.test.ts; this file adds mutated snapshot records, index nodes and
 * configs, and everything that needs a repository.)
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CairnError } from '../../src/core/errors.js';
import { idToBytes, sha256Hex } from '../../src/core/ids.js';
import { pack } from '../../src/manifest/msgpack.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/manifest/snapshot-codec.js';
import { decodeTree, encodeIndex } from '../../src/manifest/tree-codec.js';
import type { Snapshot } from '../../src/manifest/types.js';
import type { RestoreEvent } from '../../src/ops/events.js';
import { restore } from '../../src/ops/restore.js';
import { sealBlob } from '../../src/repo/blob-format.js';
import { decodeConfig, encodeConfig, newConfig } from '../../src/repo/config.js';
import { snapshotKey } from '../../src/repo/layout.js';
import type { Repository } from '../../src/repo/repository.js';
import { MAX_INDEX_DEPTH } from '../../src/repo/tree-store.js';
import { snapshotArb } from '../helpers/arbitraries.js';
import { describeTree, tempDir } from '../helpers/fs.js';
import { dirWire, fileWire, hostileRepo, symlinkWire, ZERO_ID } from '../helpers/hostile-repo.js';

/** A target inside a parent that also holds a victim directory outside the target. */
async function arena() {
  const parent = await tempDir('cairn-hostile-arena-');
  const outside = join(parent, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'victim'), 'precious\n');
  const target = join(parent, 'target');
  await mkdir(target);
  const before = await describeTree(parent);
  /** The parent of the target, the target itself left out: must never change. */
  const outsideUnchanged = async () => {
    const now = (await describeTree(parent)).filter((l) => !/^. target/.test(l));
    expect(now).toEqual(before.filter((l) => !/^. target/.test(l)));
  };
  return { parent, outside, target, outsideUnchanged };
}

/** Restores and returns the error thrown (if any) and the warnings. */
async function tryRestore(
  repo: Repository,
  id: string,
  snapshot: Snapshot,
  target: string,
  include?: string[],
) {
  const warnings: Array<{ path: string; message: string; code: string }> = [];
  let error: unknown;
  try {
    await restore(repo, id, snapshot, {
      target,
      ...(include ? { include } : {}),
      onEvent: (e: RestoreEvent) => {
        if (e.type === 'warning') warnings.push(e);
      },
    });
  } catch (err) {
    error = err;
  }
  return { error, warnings };
}

describe('path traversal in hostile trees', () => {
  const badNames: Array<[string, RegExp]> = [
    ['..', /not allowed/],
    ['.', /not allowed/],
    ['/etc/cairn-pwned', /holds '\/'/],
    ['../outside/victim', /holds '\/'/],
    ['a/../../b', /holds '\/'/],
    ['', /empty name/],
    ['x\0y', /holds NUL/],
  ];
  for (const [name, message] of badNames) {
    it(`a file named ${JSON.stringify(name)}: format error at the root and below, nothing written outside`, async () => {
      const { repo, putLeaf, putSnapshot } = await hostileRepo();
      const { target, outsideUnchanged } = await arena();
      // At the root: the restore fails with the decoder's error.
      const root = await putLeaf([fileWire(name)]);
      const s1 = await putSnapshot(root);
      const r1 = await tryRestore(repo, s1.id, s1.snapshot, target);
      expect(r1.error).toBeInstanceOf(CairnError);
      expect((r1.error as CairnError).code).toBe('format');
      expect((r1.error as Error).message).toMatch(message);
      // One level down: that directory is a warning, its siblings are restored.
      const sub = await putLeaf([fileWire(name)]);
      const top = await putLeaf([fileWire('a-good'), dirWire('sub', sub)]);
      const s2 = await putSnapshot(top);
      const r2 = await tryRestore(repo, s2.id, s2.snapshot, target);
      expect(r2.error).toBeUndefined();
      expect(r2.warnings.map((w) => w.code)).toEqual(['format']);
      expect(r2.warnings[0]!.message).toMatch(message);
      expect(await readFile(join(target, 'a-good'), 'utf8')).toBe('pwned');
      await outsideUnchanged();
    });
  }

  it('a symlink followed by a directory of the same name is rejected, in one page or across pages', async () => {
    const { repo, putLeaf, putTree, putSnapshot } = await hostileRepo();
    const { outside, target, outsideUnchanged } = await arena();
    const inner = await putLeaf([fileWire('victim')]);
    // One page: the decoder's strict name order.
    const leaf = await putLeaf([symlinkWire('x', outside), dirWire('x', inner)]);
    const s1 = await putSnapshot(leaf);
    const r1 = await tryRestore(repo, s1.id, s1.snapshot, target);
    expect((r1.error as CairnError).code).toBe('format');
    expect((r1.error as Error).message).toMatch(/strict name order/);
    // Two pages whose index claims different first names but whose entries overlap.
    const page1 = await putLeaf([fileWire('a'), symlinkWire('x', outside)]);
    const page2 = await putLeaf([dirWire('x', inner)]);
    const index = await putTree(
      encodeIndex([
        { first: 'a', tree: page1, count: 2 },
        { first: 'x', tree: page2, count: 1 },
      ]),
    );
    const s2 = await putSnapshot(index);
    const r2 = await tryRestore(repo, s2.id, s2.snapshot, join(target, 'two'));
    expect((r2.error as CairnError).code).toBe('format');
    expect((r2.error as Error).message).toMatch(/pages overlap|not in strict name order/);
    // Index first names equal: rejected by the decoder.
    const bad = pack({
      v: 1,
      x: [
        ['x', idToBytes(page1), 1],
        ['x', idToBytes(page2), 1],
      ],
    });
    expect(() => decodeTree(bad, 'tree t')).toThrow(/strict name order/);
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('precious\n');
    await outsideUnchanged();
  });

  it('a symlink already in the target, pointing outside, is never followed', async () => {
    const { repo, putLeaf, putSnapshot } = await hostileRepo();
    const { outside, target, outsideUnchanged } = await arena();
    await symlink(outside, join(target, 'sub'));
    await symlink(join(outside, 'victim'), join(target, 'evil'));
    const sub = await putLeaf([fileWire('victim', 'overwritten')]);
    const root = await putLeaf([fileWire('evil', 'replaced'), dirWire('sub', sub)]);
    const s = await putSnapshot(root);
    const r = await tryRestore(repo, s.id, s.snapshot, target);
    expect(r.error).toBeUndefined();
    // The directory through the symlink is refused with a warning naming it.
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]!.message).toMatch(/symbolic link/);
    expect(r.warnings[0]!.path).toBe(join(target, 'sub'));
    // The file replaces the symlink itself (rename), not the file it points to.
    expect(await readFile(join(target, 'evil'), 'utf8')).toBe('replaced');
    // --include through the symlinked parent is refused too.
    const inc = await tryRestore(repo, s.id, s.snapshot, target, ['sub/victim']);
    expect(inc.error).toBeInstanceOf(CairnError);
    expect((inc.error as Error).message).toMatch(/symbolic link/);
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('precious\n');
    await outsideUnchanged();
  });
});

describe('oversized declarations, cycles and missing objects', () => {
  it('huge array, string and binary headers fail fast without allocating them', async () => {
    const { repo, putTree, putSnapshot } = await hostileRepo();
    const { target } = await arena();
    const leafPrefix = [0x82, 0xa1, 0x76, 0x01, 0xa1, 0x65];
    const headers = [
      [...leafPrefix, 0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 4G entries
      [...leafPrefix, 0x91, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x41], // str32 of 4 GiB
      [...leafPrefix, 0x91, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x41], // bin32 of 4 GiB
      [0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x76], // map32 of 4G pairs
    ];
    const heapBefore = process.memoryUsage().heapUsed;
    for (const bytes of headers) {
      const id = await putTree(Uint8Array.from(bytes));
      const s = await putSnapshot(id);
      const started = Date.now();
      const r = await tryRestore(repo, s.id, s.snapshot, target);
      expect((r.error as CairnError).code).toBe('format');
      expect(Date.now() - started).toBeLessThan(2000);
    }
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 << 20);
  });

  it('a chunk larger or smaller than its entry declares is an integrity error; no file appears', async () => {
    const { repo, putLeaf, putData, putSnapshot } = await hostileRepo();
    const { target } = await arena();
    const data = await putData(Buffer.alloc(50, 7));
    const base = fileWire('x');
    const lying = { ...base, n: 'lying', s: 100, c: idToBytes(data), cs: [100] };
    delete (lying as Record<string, unknown>).d;
    const s = await putSnapshot(await putLeaf([lying]));
    const r = await tryRestore(repo, s.id, s.snapshot, target);
    expect(r.warnings.map((w) => w.code)).toEqual(['integrity']);
    expect(r.warnings[0]!.message).toMatch(/holds 50 bytes, the tree says 100/);
    expect(await describeTree(target)).toEqual([]);
  });

  it(`index nodes nested deeper than ${MAX_INDEX_DEPTH} are refused (no cycles are possible: ids are hashes)`, async () => {
    const { repo, putLeaf, putTree, putSnapshot } = await hostileRepo();
    const { target } = await arena();
    let node = await putLeaf([fileWire('f')]);
    for (let depth = 0; depth <= MAX_INDEX_DEPTH + 1; depth++) {
      node = await putTree(encodeIndex([{ first: 'f', tree: node, count: 1 }]));
    }
    const s = await putSnapshot(node);
    const r = await tryRestore(repo, s.id, s.snapshot, target);
    expect((r.error as CairnError).code).toBe('format');
    expect((r.error as Error).message).toMatch(/nested too deeply/);
    const inc = await tryRestore(repo, s.id, s.snapshot, target, ['f']);
    expect((inc.error as Error).message).toMatch(/nested too deeply/);
    // A node cannot name itself: its id would have to be the hash of bytes holding it.
    const selfish = encodeIndex([{ first: 'f', tree: ZERO_ID, count: 1 }]);
    expect(sha256Hex(selfish)).not.toBe(ZERO_ID);
    expect(await describeTree(target)).toEqual([]);
  });

  it('a snapshot whose tree is missing is a not-found error naming the tree', async () => {
    const { repo, putSnapshot } = await hostileRepo();
    const { target } = await arena();
    const s = await putSnapshot('ab'.repeat(32));
    const r = await tryRestore(repo, s.id, s.snapshot, target);
    expect((r.error as CairnError).code).toBe('not-found');
    expect((r.error as Error).message).toContain('ab'.repeat(32));
  });

  it('a snapshot record altered in place is an integrity error', async () => {
    const { repo, backend, putLeaf, putSnapshot } = await hostileRepo();
    const s = await putSnapshot(await putLeaf([]));
    const forged = encodeSnapshot({ ...s.snapshot, hostname: 'someone-else' });
    await backend.put(snapshotKey(s.id), sealBlob(forged));
    await expect(repo.snapshots.load(s.id)).rejects.toMatchObject({ code: 'integrity' });
  });
});

describe('decoders under mutated input (fuzz)', () => {
  const expectFormatOrOk = (decode: () => unknown) => {
    try {
      decode();
    } catch (err) {
      expect(err).toBeInstanceOf(CairnError);
      expect((err as CairnError).code).toBe('format');
    }
  };

  it('mutated snapshot records give a format error or a valid record', () => {
    fc.assert(
      fc.property(snapshotArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (s, pos, byte) => {
        const bytes = Buffer.from(encodeSnapshot(s));
        bytes[pos % bytes.length] = byte;
        expectFormatOrOk(() => decodeSnapshot(bytes, 'snapshot s'));
        expectFormatOrOk(() => decodeSnapshot(bytes.subarray(0, pos % bytes.length), 's'));
      }),
      { numRuns: 1000 },
    );
  });

  it('mutated index nodes give a format error or a valid node', () => {
    const names = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(names, fc.nat(), fc.integer({ min: 0, max: 255 }), (ns, pos, byte) => {
        const pages = [...ns]
          .filter((n) => !/[/\0]/.test(n) && n !== '.' && n !== '..')
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
          .map((first, i) => ({ first, tree: sha256Hex(Buffer.from([i])), count: i + 1 }));
        if (pages.length === 0) return;
        const bytes = Buffer.from(encodeIndex(pages));
        bytes[pos % bytes.length] = byte;
        expectFormatOrOk(() => decodeTree(bytes, 'tree t'));
      }),
      { numRuns: 1000 },
    );
  });

  it('mutated and random configs give a format error or a valid config', () => {
    const valid = Buffer.from(encodeConfig(newConfig({})));
    fc.assert(
      fc.property(
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 64 }),
        (pos, byte, junk) => {
          const bytes = Buffer.from(valid);
          bytes[pos % bytes.length] = byte;
          expectFormatOrOk(() => decodeConfig(bytes, 'config'));
          expectFormatOrOk(() => decodeConfig(junk, 'config'));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
