import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInside, joinPath, parentPath } from '../../src/tui/model/paths.js';
import { Selection } from '../../src/tui/model/selection.js';

/** A fixed tree: directories and files with sizes. */
const FILES: Record<string, number> = {
  'a/x': 10,
  'a/y': 20,
  'a/b/p': 100,
  'a/b/q': 200,
  'a/b/c/z': 1000,
  'd/w': 5,
  top: 7,
};
const DIRS = ['', 'a', 'a/b', 'a/b/c', 'd'];
const PATHS = [...DIRS, ...Object.keys(FILES)];

function weight(path: string) {
  if (path in FILES) return { files: 1, bytes: FILES[path]! };
  const inside = Object.entries(FILES).filter(([f]) => isInside(f, path));
  return { files: inside.length, bytes: inside.reduce((n, [, b]) => n + b, 0) };
}

/**
 * The reference model: the set of selected files, changed the slow way. Space on a
 * path shown partly selected selects all of it; otherwise it flips the path.
 */
function referenceToggle(selected: Set<string>, path: string, shown: string): Set<string> {
  const files = path in FILES ? [path] : Object.keys(FILES).filter((f) => isInside(f, path));
  const all = files.every((f) => selected.has(f));
  const select = shown === 'some' ? true : !all;
  const next = new Set(selected);
  for (const f of files) {
    if (select) next.add(f);
    else next.delete(f);
  }
  return next;
}

describe('Selection', () => {
  it('agrees with a file-by-file model for any sequence of toggles (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PATHS), { maxLength: 25 }), (toggles) => {
        let sel = Selection.empty();
        let ref = new Set<string>();
        for (const p of toggles) {
          ref = referenceToggle(ref, p, sel.stateOf(p));
          sel = sel.toggle(p, weight(p));
        }
        expect(sel.files).toBe(ref.size);
        expect(sel.bytes).toBe([...ref].reduce((n, f) => n + FILES[f]!, 0));
        for (const f of Object.keys(FILES)) expect(sel.isSelected(f)).toBe(ref.has(f));
        for (const d of DIRS) {
          const inside = Object.keys(FILES).filter((f) => isInside(f, d));
          const n = inside.filter((f) => ref.has(f)).length;
          const expected = n === 0 ? 'none' : n === inside.length ? 'all' : 'some';
          // "some" may also show for a directory whose files were all picked one by one.
          if (expected === 'some') expect(sel.stateOf(d)).toBe('some');
          else expect([expected, 'some']).toContain(sel.stateOf(d));
        }
        if (ref.size > 0) expect(sel.isEmpty).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('selects a directory with one mark and shows its parent as partly selected', () => {
    const sel = Selection.empty().toggle('a/b', weight('a/b'));
    expect([...sel.entries()].map(([p]) => p)).toEqual(['a/b']);
    expect(sel.files).toBe(3);
    expect(sel.bytes).toBe(1300);
    expect(sel.stateOf('a/b')).toBe('all');
    expect(sel.stateOf('a/b/c/z')).toBe('all');
    expect(sel.stateOf('a')).toBe('some');
    expect(sel.stateOf('')).toBe('some');
    expect(sel.stateOf('d')).toBe('none');
  });

  it('deselecting a file inside a selected directory subtracts it and leaves the rest', () => {
    const sel = Selection.of('a', weight('a')).toggle('a/b/p', weight('a/b/p'));
    expect(sel.files).toBe(4);
    expect(sel.bytes).toBe(10 + 20 + 200 + 1000);
    expect(sel.stateOf('a')).toBe('some');
    expect(sel.stateOf('a/b')).toBe('some');
    expect(sel.isSelected('a/b/q')).toBe(true);
    // Space on a partly selected directory selects all of it again.
    const again = sel.toggle('a', weight('a'));
    expect(again.stateOf('a')).toBe('all');
    expect(again.files).toBe(5);
  });

  it('collapses a directory whose children are all selected one by one', () => {
    let sel = Selection.empty();
    for (const f of ['a/b/p', 'a/b/q', 'a/b/c']) sel = sel.toggle(f, weight(f));
    expect(sel.stateOf('a/b')).toBe('some');
    const children = ['a/b/p', 'a/b/q', 'a/b/c'];
    const collapsed = sel.collapse('a/b', weight('a/b'), children);
    expect(collapsed.stateOf('a/b')).toBe('all');
    expect([...collapsed.entries()].map(([p]) => p)).toEqual(['a/b']);
    expect(collapsed.bytes).toBe(sel.bytes);
    // Not all children: unchanged.
    const partial = Selection.of('a/b/p', weight('a/b/p'));
    expect(partial.collapse('a/b', weight('a/b'), children)).toBe(partial);
  });
});

describe('paths', () => {
  it('joins, splits and nests snapshot paths with the root as the empty path', () => {
    expect(joinPath('', 'a')).toBe('a');
    expect(joinPath('a/b', 'c')).toBe('a/b/c');
    expect(parentPath('a/b/c')).toBe('a/b');
    expect(parentPath('a')).toBe('');
    expect(parentPath('')).toBeUndefined();
    expect(isInside('a/b', 'a')).toBe(true);
    expect(isInside('ab', 'a')).toBe(false);
    expect(isInside('a', '')).toBe(true);
    expect(isInside('', '')).toBe(false);
  });
});
