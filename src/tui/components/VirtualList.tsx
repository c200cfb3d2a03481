/**
 * A list that renders only the rows in its window: `height` rows from `offset`. The
 * cost of drawing does not depend on how many rows the list has.
 */
import { Box } from 'ink';
import type { ReactNode } from 'react';

/** Props of VirtualList. */
export interface VirtualListProps<T> {
  /** All rows (only `offset` to `offset + height` are read). */
  rows: readonly T[];
  offset: number;
  height: number;
  cursor: number;
  /** Draws one row; `index` is its position in `rows`. */
  renderRow: (row: T, index: number, isCursor: boolean) => ReactNode;
  /** Shown when there are no rows. */
  empty?: ReactNode;
}

/** The visible window of `rows`. */
export function VirtualList<T>({
  rows,
  offset,
  height,
  cursor,
  renderRow,
  empty,
}: VirtualListProps<T>) {
  const end = Math.min(rows.length, offset + height);
  const visible: ReactNode[] = [];
  for (let i = offset; i < end; i++) visible.push(renderRow(rows[i] as T, i, i === cursor));
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      {visible.length > 0 ? visible : empty}
    </Box>
  );
}
