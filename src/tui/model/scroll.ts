/**
 * Windowing for virtualized lists: which slice of rows is on screen. Only that slice
 * is ever rendered, so a list of any length costs the same to draw.
 */

/** `cursor` limited to a list of `count` rows (0 when empty). */
export function clampCursor(cursor: number, count: number): number {
  if (count <= 0) return 0;
  return Math.min(Math.max(0, cursor), count - 1);
}

/**
 * The first visible row for a window of `height` rows that showed rows from `offset`
 * and must now show `cursor`: the window moves only as far as needed, and never past
 * the end of the list.
 */
export function scrollOffset(
  cursor: number,
  offset: number,
  height: number,
  count: number,
): number {
  if (height <= 0 || count <= height) return 0;
  let first = Math.min(Math.max(0, offset), count - height);
  if (cursor < first) first = cursor;
  if (cursor >= first + height) first = cursor - height + 1;
  return Math.max(0, Math.min(first, count - height));
}
