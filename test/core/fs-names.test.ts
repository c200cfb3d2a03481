import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fsPath,
  isCanonicalName,
  nameByteLength,
  nameFromBytes,
  nameToBytes,
  readdirNames,
  readdirNamesSync,
} from '../../src/core/fs-names.js';
import { tempDir } from '../helpers/fs.js';

const b = (...bytes: number[]) => Buffer.from(bytes);

describe('surrogate-escaped names', () => {
  it('decodes valid UTF-8 as text and escapes each invalid byte as U+DC00 + byte', () => {
    expect(nameFromBytes(Buffer.from('héllo 🌲'))).toBe('héllo 🌲');
    expect(nameFromBytes(b(0x61, 0xff, 0xfe, 0x62))).toBe('a\udcff\udcfeb');
    // a truncated sequence, an overlong NUL, an encoded surrogate, past U+10FFFF
    expect(nameFromBytes(b(0xc3))).toBe('\udcc3');
    expect(nameFromBytes(b(0xc0, 0x80))).toBe('\udcc0\udc80');
    expect(nameFromBytes(b(0xed, 0xb2, 0x80))).toBe('\udced\udcb2\udc80');
    expect(nameFromBytes(b(0xf4, 0x90, 0x80, 0x80))).toBe('\udcf4\udc90\udc80\udc80');
    // A valid sequence right after an invalid byte is decoded normally.
    expect(nameFromBytes(b(0xe9, 0xc3, 0xa9))).toBe('\udce9é');
  });

  it('keeps a leading byte-order mark (TextDecoder strips it unless told not to)', () => {
    expect(nameToBytes(nameFromBytes(b(0xef, 0xbb, 0xbf, 0x61)))).toEqual(
      b(0xef, 0xbb, 0xbf, 0x61),
    );
  });

  it('encodes escapes back to their bytes, plain text as UTF-8', () => {
    expect(nameToBytes('a\udcff\udcfeb')).toEqual(b(0x61, 0xff, 0xfe, 0x62));
    expect(nameToBytes('é🌲')).toEqual(Buffer.from('é🌲'));
    expect(nameByteLength('a\udcff')).toBe(2);
    expect(nameByteLength('é')).toBe(2);
  });

  it('any byte string round-trips exactly (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const name = nameFromBytes(bytes);
        expect(nameToBytes(name)).toEqual(Buffer.from(bytes));
        expect(isCanonicalName(name)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('strings no decode produces are not canonical', () => {
    // Escapes that together are valid UTF-8 would decode as 'é', a stray high surrogate
    // or a low one below U+DC80 is not an escape at all.
    expect(isCanonicalName('\udcc3\udca9')).toBe(false);
    expect(isCanonicalName('a\ud800')).toBe(false);
    expect(isCanonicalName('\udc41')).toBe(false);
    expect(isCanonicalName('plain 🌲')).toBe(true);
  });

  it('fsPath returns plain strings unchanged and escaped ones as exact bytes', () => {
    expect(fsPath('/tmp/plain')).toBe('/tmp/plain');
    expect(fsPath('/tmp/x\udcff')).toEqual(Buffer.from([...Buffer.from('/tmp/x'), 0xff]));
  });
});

describe('reading directories byte-exact', () => {
  it('returns escaped names only where the bytes are not UTF-8', async () => {
    const dir = await tempDir();
    writeFileSync(join(dir, 'plain'), '');
    writeFileSync(join(dir, 'real \uFFFD char'), '');
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/bad-`), b(0xff)]), '');
    mkdirSync(Buffer.concat([Buffer.from(`${dir}/dir-`), b(0xc3)]));
    const expected = ['bad-\udcff', 'dir-\udcc3', 'plain', 'real \uFFFD char'];
    expect(readdirNamesSync(dir).sort()).toEqual(expected);
    expect((await readdirNames(dir)).sort()).toEqual(expected);
    // Each name reaches its file.
    writeFileSync(fsPath(join(dir, 'dir-\udcc3', 'inner')), 'x');
    expect(readdirNamesSync(fsPath(join(dir, 'dir-\udcc3')))).toEqual(['inner']);
  });
});
