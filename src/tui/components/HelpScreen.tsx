/** The key map, shown with `?`. */
import { Box, Text } from 'ink';

/** Keys by screen: [keys, what they do]. Also the source of docs/tui.md's table. */
export const KEY_MAP: ReadonlyArray<{ title: string; keys: ReadonlyArray<[string, string]> }> = [
  {
    title: 'Everywhere',
    keys: [
      ['?', 'show or hide this help'],
      ['q', 'quit (except while typing in a field)'],
      ['↑ ↓  k j', 'move'],
      ['PgUp PgDn  ^B ^F', 'move a page'],
      ['Home End  g G', 'first, last'],
    ],
  },
  {
    title: 'Snapshot list',
    keys: [
      ['Enter → l', 'browse the snapshot'],
      ['/', 'filter: text, tag:NAME, host:NAME (Enter keeps, Esc clears)'],
      ['c', 'mark for compare; c or Enter on a second snapshot compares them'],
      ['r', 'restore the whole snapshot'],
      ['R', 'reload the list'],
      ['Esc', 'drop the compare mark, then the filter'],
    ],
  },
  {
    title: 'Tree browser',
    keys: [
      ['Enter → l', 'open a directory, preview a file'],
      ['Backspace ← h', 'up one directory (at the top: back to the list)'],
      ['Space', 'select or unselect the file or directory, move down'],
      ['a / u', 'select this whole directory / clear the selection'],
      ['r', 'restore the selection (or the entry under the cursor)'],
      ['s / S', 'sort by name, size, time / reverse'],
      ['/', 'search names in this directory (Enter keeps, Esc clears)'],
      ['p', 'preview the file'],
      ['f', 'comparing: show only changes'],
      ['Esc', 'clear the search, or back to the snapshot list'],
    ],
  },
  {
    title: 'Preview',
    keys: [
      ['↑ ↓  k j', 'scroll a line'],
      ['Space PgDn / PgUp', 'scroll a page'],
      ['Esc Enter ⌫ ← h', 'close the preview'],
    ],
  },
  {
    title: 'Markers',
    keys: [
      ['[x] [-] [ ]', 'selected, partly selected, not selected'],
      ['+ - ~ *', 'added, removed, modified (or changed inside), metadata only'],
    ],
  },
  {
    title: 'Restore dialog',
    keys: [
      ['Tab', 'switch between target and existing-files choice'],
      ['← → Space', 'existing files: replace if different, always replace, or skip'],
      ['Enter', 'start; when finished, close'],
      ['Esc', 'cancel the dialog, or a running restore'],
    ],
  },
];

/** Lines of the help screen (titles and keys). */
export function helpLineCount(): number {
  return 1 + KEY_MAP.reduce((n, g) => n + 1 + g.keys.length, 0);
}

/**
 * The help screen from line `top` (it scrolls with ↑↓ when the terminal is short;
 * any other key closes it: the app handles the keys).
 */
export function HelpScreen({ height, top = 0 }: { height: number; top?: number }) {
  const lines: Array<{ key: string; text: string; bold?: boolean; keys?: string }> = [];
  for (const group of KEY_MAP) {
    lines.push({ key: group.title, text: group.title, bold: true });
    for (const [keys, text] of group.keys)
      lines.push({ key: `${group.title}/${keys}`, keys, text });
  }
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      <Text bold color="cyan">
        cairn tui: keys (↑↓ scroll, any other key closes this help)
      </Text>
      {lines.slice(top, top + height - 1).map((l) =>
        l.bold ? (
          <Text key={l.key} bold>
            {l.text}
          </Text>
        ) : (
          <Text key={l.key} wrap="truncate-end">
            {'  '}
            <Text color="yellow">{(l.keys ?? '').padEnd(18)}</Text>
            {l.text}
          </Text>
        ),
      )}
    </Box>
  );
}
