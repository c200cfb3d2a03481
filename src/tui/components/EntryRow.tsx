/**
 * One row of a directory listing, and the header above the rows. Columns that do not
 * fit the terminal width are dropped (mode first, then mtime); the name takes the rest.
 */
import { Text } from 'ink';
import type { Entry } from '../../manifest/types.js';
import { cell, fitText, formatBytes, formatMode, formatMtime, printable } from '../format.js';

/** Which columns a listing shows at a given width, and the name column's width. */
export interface EntryColumns {
  name: number;
  size: boolean;
  mtime: boolean;
  mode: boolean;
}

const LEAD = 6; // cursor "> " and the marker "[x] "
const SIZE = 10;
const MTIME = 18;
const MODE = 12;

/** The columns for a listing `width` columns wide. */
export function entryColumns(width: number): EntryColumns {
  const room = width - LEAD;
  if (room - SIZE - MTIME - MODE >= 20) {
    return { name: room - SIZE - MTIME - MODE, size: true, mtime: true, mode: true };
  }
  if (room - SIZE - MTIME >= 16)
    return { name: room - SIZE - MTIME, size: true, mtime: true, mode: false };
  if (room - SIZE >= 10) return { name: room - SIZE, size: true, mtime: false, mode: false };
  return { name: Math.max(1, room), size: false, mtime: false, mode: false };
}

/** The three-character marker before a name, and its colour. */
export interface RowMarker {
  text: string;
  color?: string;
}

/** The name as listed: `dir/`, `link -> target`, `name (fifo)`. */
export function displayName(entry: Entry): string {
  const name = printable(entry.name);
  switch (entry.kind) {
    case 'dir':
      return `${name}/`;
    case 'symlink':
      return `${name} -> ${printable(entry.target)}`;
    case 'file':
      return name;
    default:
      return `${name} (${entry.kind})`;
  }
}

function sizeText(entry: Entry): string {
  if (entry.kind === 'file') return formatBytes(entry.size);
  if (entry.kind === 'dir') return formatBytes(entry.bytes);
  return '';
}

/** One listing row. */
export function EntryRow({
  entry,
  isCursor,
  marker,
  columns,
  dim = false,
}: {
  entry: Entry;
  isCursor: boolean;
  marker: RowMarker;
  columns: EntryColumns;
  /** Draw the row faded (compare: an entry that only the older snapshot has). */
  dim?: boolean;
}) {
  const nameColor = entry.kind === 'dir' ? 'blue' : entry.kind === 'symlink' ? 'cyan' : undefined;
  return (
    <Text inverse={isCursor} wrap="truncate-end" dimColor={dim}>
      {isCursor ? '> ' : '  '}
      <Text color={marker.color}>{marker.text}</Text>{' '}
      <Text color={nameColor} bold={entry.kind === 'dir'}>
        {fitText(displayName(entry), columns.name)}
      </Text>
      {columns.size ? ` ${cell(sizeText(entry), SIZE - 1, 'right')}` : ''}
      {columns.mtime ? `  ${cell(formatMtime(entry.mtime), MTIME - 2)}` : ''}
      {columns.mode ? `  ${cell(formatMode(entry.kind, entry.mode), MODE - 2)}` : ''}
    </Text>
  );
}

/** The column titles above a listing. */
export function EntryHeader({ columns, sort }: { columns: EntryColumns; sort: string }) {
  const title = (label: string, key: string) => (sort === key ? `${label}*` : label);
  return (
    <Text bold wrap="truncate-end">
      {' '.repeat(LEAD)}
      {fitText(title('Name', 'name'), columns.name)}
      {columns.size ? ` ${cell(title('Size', 'size'), SIZE - 1, 'right')}` : ''}
      {columns.mtime ? `  ${cell(title('Modified', 'time'), MTIME - 2)}` : ''}
      {columns.mode ? `  ${cell('Mode', MODE - 2)}` : ''}
    </Text>
  );
}
