/**
 * Exclude globs: names, absolute paths, relative paths matched at any depth, and
 * character classes as shells take them (a leading `]` is a member, `/` never matches).
 */

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExcludeMatcher, globToRegExp, readExcludeFiles } from '../../src/ops/exclude.js';
import { tempDir } from '../helpers/fs.js';

function excluded(pattern: string, path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return new ExcludeMatcher([pattern]).excludes(path, name);
}

describe('exclude globs', () => {
  it('matches names anywhere and absolute paths whole', () => {
    expect(excluded('*.o', '/src/a/main.o')).toBe(true);
    expect(excluded('*.o', '/src/a/main.c')).toBe(false);
    expect(excluded('/src/*/cache', '/src/a/cache')).toBe(true);
    expect(excluded('/src/*/cache', '/other/src/a/cache')).toBe(false);
    expect(excluded('/src/**/cache', '/src/a/b/cache')).toBe(true);
  });

  it('matches a relative pattern with / as the last components at any depth', () => {
    expect(excluded('build/tmp', '/home/me/project/build/tmp')).toBe(true);
    expect(excluded('build/tmp', '/build/tmp')).toBe(true);
    expect(excluded('build/tmp/', '/home/me/build/tmp')).toBe(true);
    expect(excluded('build/*.log', '/p/build/x.log')).toBe(true);
    // Whole components only.
    expect(excluded('build/tmp', '/home/me/rebuild/tmp')).toBe(false);
    expect(excluded('build/tmp', '/home/me/build/tmpx')).toBe(false);
  });

  it('takes a ] right after [ or [! as a member', () => {
    expect(excluded('[]]', '/d/]')).toBe(true);
    expect(excluded('[]a]', '/d/a')).toBe(true);
    expect(excluded('[]a]', '/d/b')).toBe(false);
    expect(excluded('[!]]', '/d/]')).toBe(false);
    expect(excluded('[!]]', '/d/x')).toBe(true);
    expect(excluded('x[]-]', '/d/x-')).toBe(true);
  });

  it('never lets a class match /', () => {
    expect(excluded('/a[!x]b', '/a/b')).toBe(false);
    expect(excluded('/a[^x]b', '/a/b')).toBe(false);
    expect(excluded('/a[!x]b', '/acb')).toBe(true);
    expect(excluded('/a[%-0]b', '/a/b')).toBe(false);
  });

  it('reads ranges, escapes and special characters in a class literally', () => {
    expect(excluded('[a-c]x', '/d/bx')).toBe(true);
    expect(excluded('[a-c]x', '/d/dx')).toBe(false);
    expect(excluded('[\\]]', '/d/]')).toBe(true);
    expect(excluded('[\\\\]', '/d/\\')).toBe(true);
    expect(excluded('[.]', '/d/x')).toBe(false);
    expect(excluded('[.]', '/d/.')).toBe(true);
    expect(excluded('[a-]', '/d/-')).toBe(true);
    expect(excluded('?', '/d/😀')).toBe(true);
    expect(excluded('[😀]', '/d/😀')).toBe(true);
  });

  it('refuses malformed classes, naming the pattern', () => {
    expect(() => globToRegExp('[ab', 'keep/[ab')).toThrow(
      'exclude pattern keep/[ab has an unclosed [',
    );
    expect(() => globToRegExp('[]')).toThrow('unclosed [');
    expect(() => globToRegExp('[z-a]')).toThrow('range out of order: z-a');
    expect(() => globToRegExp('[a\\')).toThrow('ends with \\');
  });

  it('refuses patterns no normalized absolute path can match', () => {
    for (const [p, what] of [
      ['./src', 'a . component'],
      ['src/../a', 'a .. component'],
      ['src//app', 'an empty component (//)'],
      ['/', 'name what is below /'],
    ]) {
      expect(() => new ExcludeMatcher([p!])).toThrow(`exclude pattern ${p} can never match`);
      expect(() => new ExcludeMatcher([p!])).toThrow(what!);
    }
    // An escaped dot is a name's dot, and a trailing `/` is dropped: both fine.
    expect(excluded('src/\\.cache/', '/p/src/.cache')).toBe(true);
    expect(excluded('src/.cache/', '/p/src/.cache')).toBe(true);
  });

  it('reads exclude files: trimmed lines, an escaped trailing space kept, bad lines named', async () => {
    const dir = await tempDir();
    const file = join(dir, 'excludes');
    await writeFile(file, '  *.o  \n# note\ntrail\\ \n\n');
    expect(await readExcludeFiles([file])).toEqual(['*.o', 'trail\\ ']);
    expect(excluded('trail\\ ', '/d/trail ')).toBe(true);
    await writeFile(file, '*.o\nbuild/[z-a]\n');
    await expect(readExcludeFiles([file])).rejects.toThrow(
      `${file} line 2: exclude pattern build/[z-a] has a range out of order: z-a`,
    );
  });

  it('matches a name made of class members exactly when every character is one', () => {
    const members = 'ab]-^!.\\';
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...'ab]-^!.\\/x'), { minLength: 1, maxLength: 6 }),
        (chars) => {
          const name = chars.join('');
          const escaped = [...members].map((c) => `\\${c}`).join('');
          const re = globToRegExp(`[${escaped}]`.repeat(chars.length));
          // A class never matches `/`.
          const all = [...name].every((c) => members.includes(c));
          expect(re.test(name)).toBe(all);
        },
      ),
    );
  });
});
