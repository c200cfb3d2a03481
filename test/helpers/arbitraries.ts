/** fast-check generators for manifest values. */
import fc from 'fast-check';
import type { Xattr } from '../../src/core/xattrs.js';
import { compareNames } from '../../src/manifest/names.js';
import type { ChunkRef, Entry, Snapshot } from '../../src/manifest/types.js';

/** Valid entry names: unicode, spaces, odd characters, never `/`, NUL, `.` or `..`. */
export const nameArb = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom('a', 'B', '.', '-', ' ', 'é', '日', '😀', '\u0301', '\t', '~'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    ),
    minLength: 1,
    maxLength: 24,
  })
  .filter((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..');

export const idArb = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => Buffer.from(b).toString('hex'));

const timeArb = fc.record({
  sec: fc.integer({ min: -2_000_000_000, max: 2 ** 40 }),
  nsec: fc.integer({ min: 0, max: 999_999_999 }),
});
/** Extended attribute lists as the format holds them: namespaced names in byte order. */
export const xattrsArb: fc.Arbitrary<Xattr[]> = fc
  .uniqueArray(
    fc.record({
      name: fc
        .tuple(
          fc.constantFrom('user.', 'trusted.', 'security.', 'system.'),
          fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\0')),
        )
        .map(([ns, rest]) => ns + rest),
      value: fc.uint8Array({ maxLength: 40 }),
    }),
    { minLength: 1, maxLength: 4, selector: (a) => a.name },
  )
  .map((list) => list.sort((a, b) => compareNames(a.name, b.name)));

const baseArb = fc
  .record({
    name: nameArb,
    mode: fc.integer({ min: 0, max: 0o7777 }),
    uid: fc.integer({ min: 0, max: 0xffffffff }),
    gid: fc.integer({ min: 0, max: 0xffffffff }),
    mtime: timeArb,
    xattrs: fc.option(xattrsArb, { nil: undefined, freq: 4 }),
  })
  .map(({ xattrs, ...rest }) => (xattrs ? { ...rest, xattrs } : rest));
const chunksArb = fc.array(
  fc.record({ id: idArb, size: fc.integer({ min: 1, max: 16 * 1024 * 1024 }) }),
  { minLength: 1, maxLength: 8 },
);

export const entryArb: fc.Arbitrary<Entry> = fc.oneof(
  fc
    .tuple(
      baseArb,
      chunksArb,
      fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
    )
    .map(
      ([b, chunks, hardlink]): Entry => ({
        ...b,
        kind: 'file',
        size: chunks.reduce((n: number, c: ChunkRef) => n + c.size, 0),
        chunks,
        ...(hardlink !== undefined ? { hardlink } : {}),
      }),
    ),
  fc
    .tuple(baseArb, fc.uint8Array({ minLength: 0, maxLength: 64 }))
    .map(
      ([b, data]): Entry =>
        data.length === 0
          ? { ...b, kind: 'file', size: 0, chunks: [] }
          : { ...b, kind: 'file', size: data.length, chunks: [], inline: data },
    ),
  fc
    .tuple(baseArb, idArb, fc.nat(), fc.nat())
    .map(([b, tree, files, bytes]): Entry => ({ ...b, kind: 'dir', tree, files, bytes })),
  fc
    .tuple(
      baseArb,
      fc.string({ minLength: 1, maxLength: 100 }).filter((s) => !s.includes('\0')),
    )
    .map(([b, target]): Entry => ({ ...b, kind: 'symlink', target })),
  fc
    .tuple(baseArb, fc.constantFrom('fifo', 'socket') as fc.Arbitrary<'fifo' | 'socket'>)
    .map(([b, kind]): Entry => ({ ...b, kind })),
  fc
    .tuple(
      baseArb,
      fc.constantFrom('chardev', 'blockdev') as fc.Arbitrary<'chardev' | 'blockdev'>,
      fc.nat(),
    )
    .map(([b, kind, rdev]): Entry => ({ ...b, kind, rdev })),
);

export const snapshotArb: fc.Arbitrary<Snapshot> = fc.record(
  {
    time: fc
      .date({
        min: new Date('1970-01-01T00:00:00Z'),
        max: new Date('2200-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString()),
    hostname: fc.string(),
    username: fc.string(),
    paths: fc.array(fc.string({ minLength: 1 })),
    tags: fc.uniqueArray(fc.stringMatching(/^[a-z0-9.:_-]{1,12}$/)),
    tree: idArb,
    parent: idArb,
    summary: fc.record({
      files: fc.nat(),
      dirs: fc.nat(),
      bytes: fc.maxSafeNat(),
      filesNew: fc.nat(),
      filesChanged: fc.nat(),
      filesUnchanged: fc.nat(),
      blobsAdded: fc.nat(),
      bytesAdded: fc.maxSafeNat(),
      errors: fc.nat(),
      durationMs: fc.nat(),
    }),
    program: fc.constant('cairn 0.1.0'),
  },
  { requiredKeys: ['time', 'hostname', 'username', 'paths', 'tags', 'tree', 'summary', 'program'] },
);
