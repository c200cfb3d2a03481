import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { KEY_MAP } from '../../src/tui/index.js';

describe('docs/tui.md', () => {
  it('lists every key of the in-app help, word for word', async () => {
    const doc = await readFile(new URL('../../docs/tui.md', import.meta.url), 'utf8');
    // Table rows as [keys, action], cells trimmed (the formatter pads them).
    const rows = doc
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim())
          .join(' | '),
      );
    for (const group of KEY_MAP) {
      expect(doc).toContain(`### ${group.title}`);
      for (const [keys, text] of group.keys) expect(rows).toContain(`\`${keys}\` | ${text}`);
    }
  });
});
