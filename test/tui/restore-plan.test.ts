import { describe, expect, it } from 'vitest';
import type { GetOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { blobKey } from '../../src/repo/layout.js';
import { selectionIncludes } from '../../src/tui/model/restore-plan.js';
import { Selection } from '../../src/tui/model/selection.js';
import { buildFixture, throughBackend } from './fixtures.js';

class Recording extends ForwardingBackend {
  readonly keys: string[] = [];
  override get(key: string, options?: GetOptions): Promise<Uint8Array> {
    this.keys.push(key);
    return super.get(key, options);
  }
}

describe('restore planning', () => {
  it('expands a selected directory around a deselected path, reading only what it must', async () => {
    const fixture = await buildFixture();
    const root = fixture.snaps[2].snapshot.tree;
    const tree = async (...names: string[]) => {
      let id = root;
      for (const n of names) {
        const e = await fixture.repo.trees.lookup(id, n);
        if (e?.kind !== 'dir') throw new Error(`${n} is not a directory`);
        id = e.tree;
      }
      return id;
    };
    const recording = new Recording(fixture.repo.backend);
    const repo = throughBackend(fixture.repo, () => recording);
    const sel = Selection.of('code', { files: 4, bytes: 0 })
      .toggle('code/lib/util.ts', { files: 1, bytes: 0 })
      .toggle('docs/c.txt', { files: 1, bytes: 0 });
    const includes = await selectionIncludes(repo, root, sel);
    expect(includes.sort()).toEqual(
      ['code/lib/deep.ts', 'code/lib/new.ts', 'code/main.ts', 'docs/c.txt'].sort(),
    );
    // code and code/lib were listed to go around util.ts; docs was never read.
    expect(recording.keys).toContain(blobKey('tree', await tree('code')));
    expect(recording.keys).toContain(blobKey('tree', await tree('code', 'lib')));
    expect(recording.keys).not.toContain(blobKey('tree', await tree('docs')));
    expect(recording.keys.every((k) => k.startsWith('tree/'))).toBe(true);

    recording.keys.length = 0;
    expect(await selectionIncludes(repo, root, Selection.of('', { files: 0, bytes: 0 }))).toEqual([
      '',
    ]);
    expect(await selectionIncludes(repo, root, Selection.empty())).toEqual([]);
    expect(recording.keys).toEqual([]);
  });
});
