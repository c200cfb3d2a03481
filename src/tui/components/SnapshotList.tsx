/**
 * The snapshot list: newest first, with time, id, host, tags, files, size and paths.
 * `/` filters by text, `tag:NAME` or `host:NAME`; Enter browses a snapshot; `c` marks
 * one for comparison and `c` (or Enter) on a second compares them; `r` restores a
 * whole snapshot. Its state lives in the app so it survives browsing.
 */
import { Box, Text } from 'ink';
import { useMemo } from 'react';
import { shortId } from '../../core/ids.js';
import type { Repository } from '../../repo/repository.js';
import type { SnapshotRef } from '../../repo/snapshots.js';
import {
  cell,
  fitText,
  formatBytes,
  formatCount,
  formatLocalTime,
  plural,
  printable,
} from '../format.js';
import { isBackspace, useKeys } from '../hooks/use-keys.js';
import { clampCursor, scrollOffset } from '../model/scroll.js';
import { Selection } from '../model/selection.js';
import { filterSnapshots } from '../model/snapshot-filter.js';
import { RestoreDialog } from './RestoreDialog.js';
import { Spinner } from './Spinner.js';
import { TextField } from './TextField.js';
import { VirtualList } from './VirtualList.js';

/** The list's own state, kept by the app. */
export interface SnapshotListState {
  cursor: number;
  offset: number;
  filter: string;
  editing: boolean;
  /** The snapshot marked with `c` for comparison. */
  mark?: string;
  /** The snapshot whose whole-snapshot restore dialog is open. */
  restoring?: SnapshotRef;
  message?: string;
}

/** A fresh list state. */
export function initialListState(): SnapshotListState {
  return { cursor: 0, offset: 0, filter: '', editing: false };
}

/** Props of SnapshotList. */
export interface SnapshotListProps {
  repo: Repository;
  refs: readonly SnapshotRef[];
  loading: boolean;
  error?: string;
  width: number;
  height: number;
  cwd: string;
  active: boolean;
  state: SnapshotListState;
  getState: () => SnapshotListState;
  setState: (next: SnapshotListState | ((s: SnapshotListState) => SnapshotListState)) => void;
  onOpen: (ref: SnapshotRef) => void;
  /** Compare `before` (older) with `after` (newer). */
  onCompare: (before: SnapshotRef, after: SnapshotRef) => void;
  onReload: () => void;
  onQuit: () => void;
  onHelp: () => void;
}

interface ListColumns {
  time: number;
  host: number;
  tags: number;
  files: number;
  size: number;
  paths: number;
}

/** Column widths for `width`, host and tags sized to what the snapshots hold. */
function listColumns(width: number, refs: readonly SnapshotRef[]): ListColumns {
  const longest = (f: (r: SnapshotRef) => string) =>
    refs.reduce((n, r) => Math.max(n, f(r).length), 0);
  const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
  // marker(2) + id(9) + time(20) are always there
  let room = width - 31;
  const take = (w: number) => {
    if (room >= w) {
      room -= w;
      return w;
    }
    return 0;
  };
  const size = take(10);
  const files = take(9);
  const host = take(clamp(longest((r) => r.snapshot.hostname) + 1, 6, 20));
  const tags = take(clamp(longest((r) => r.snapshot.tags.join(',')) + 1, 6, 24));
  return { time: 20, host, tags, files, size, paths: Math.max(0, room) };
}

/** The snapshot list; it owns the keyboard while `active` and no dialog is open. */
export function SnapshotList(props: SnapshotListProps) {
  const { refs, state, getState, setState, width, height, active } = props;
  const rows = useMemo(() => filterSnapshots(refs, state.filter), [refs, state.filter]);
  const listHeight = Math.max(1, height - 3);
  const cursor = clampCursor(state.cursor, rows.length);
  const offset = scrollOffset(cursor, state.offset, listHeight, rows.length);
  const cols = listColumns(width, refs);

  useKeys((input, key) => {
    const s = getState();
    if (s.message) setState({ ...s, message: undefined });
    if (s.editing) {
      if (key.return || key.upArrow || key.downArrow) setState((x) => ({ ...x, editing: false }));
      else if (key.escape) setState((x) => ({ ...x, editing: false, filter: '', cursor: 0 }));
      else if (isBackspace(key))
        setState((x) => ({ ...x, filter: x.filter.slice(0, -1), cursor: 0 }));
      else if (key.ctrl && input === 'u') setState((x) => ({ ...x, filter: '', cursor: 0 }));
      else if (input && !key.ctrl && !key.meta && input >= ' ') {
        setState((x) => ({ ...x, filter: x.filter + input, cursor: 0, offset: 0 }));
      }
      return;
    }
    const at = clampCursor(s.cursor, rows.length);
    const move = (to: number) =>
      setState((x) => {
        const c = clampCursor(to, rows.length);
        return { ...x, cursor: c, offset: scrollOffset(c, x.offset, listHeight, rows.length) };
      });
    const current = rows[at];
    if (key.upArrow || input === 'k') move(at - 1);
    else if (key.downArrow || input === 'j') move(at + 1);
    else if (key.pageUp || (key.ctrl && input === 'b')) move(at - listHeight);
    else if (key.pageDown || (key.ctrl && input === 'f')) move(at + listHeight);
    else if (key.home || input === 'g') move(0);
    else if (key.end || input === 'G') move(rows.length - 1);
    else if (input === '/') setState((x) => ({ ...x, editing: true }));
    else if (key.escape) {
      if (s.mark) setState((x) => ({ ...x, mark: undefined }));
      else if (s.filter) setState((x) => ({ ...x, filter: '', cursor: 0 }));
    } else if (key.return || key.rightArrow || input === 'l' || input === 'c') {
      if (!current) return;
      if (input === 'c' && !s.mark) {
        setState((x) => ({
          ...x,
          mark: current.id,
          message: `compare: ${shortId(current.id)} marked; press c or Enter on another snapshot`,
        }));
        return;
      }
      if (s.mark && s.mark !== current.id) {
        const other = refs.find((r) => r.id === s.mark);
        setState((x) => ({ ...x, mark: undefined }));
        if (other) {
          const [before, after] =
            other.snapshot.time <= current.snapshot.time ? [other, current] : [current, other];
          props.onCompare(before, after);
        }
        return;
      }
      if (s.mark === current.id) {
        setState((x) => ({ ...x, mark: undefined }));
        if (input === 'c') return;
      }
      props.onOpen(current);
    } else if (input === 'r' && current) setState((x) => ({ ...x, restoring: current }));
    else if (input === 'R') props.onReload();
    else if (input === '?') props.onHelp();
    else if (input === 'q') props.onQuit();
  }, active && !state.restoring);

  if (state.restoring) {
    const ref = state.restoring;
    const { files, bytes } = ref.snapshot.summary;
    return (
      <Box flexDirection="column" height={height}>
        <RestoreDialog
          repo={props.repo}
          snapshot={ref}
          selection={Selection.of('', { files, bytes })}
          what={`the whole snapshot: ${plural(files, 'file')}, ${formatBytes(bytes)}`}
          cwd={props.cwd}
          width={width}
          active={active}
          onClose={() => setState((x) => ({ ...x, restoring: undefined }))}
          onQuit={props.onQuit}
        />
      </Box>
    );
  }

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold wrap="truncate-end">
        {'  '}
        {cell('ID', 9)}
        {cell('Time', cols.time)}
        {cols.host ? cell('Host', cols.host) : ''}
        {cols.tags ? cell('Tags', cols.tags) : ''}
        {cols.files ? cell('Files', cols.files - 1, 'right') + ' ' : ''}
        {cols.size ? cell('Size', cols.size - 1, 'right') + ' ' : ''}
        {cols.paths ? ' Paths' : ''}
      </Text>
      <VirtualList
        rows={rows}
        offset={offset}
        height={listHeight}
        cursor={cursor}
        empty={
          <Text dimColor>
            {props.loading
              ? ' '
              : refs.length === 0
                ? '  no snapshots in this repository yet: create one with cairn backup'
                : '  no snapshot matches the filter'}
          </Text>
        }
        renderRow={(ref, _i, isCursor) => {
          const s = ref.snapshot;
          const marked = state.mark === ref.id;
          return (
            <Text key={ref.id} inverse={isCursor} wrap="truncate-end">
              {isCursor ? '>' : ' '}
              <Text color="magenta">{marked ? 'C' : ' '}</Text>
              <Text color="yellow">{cell(shortId(ref.id), 9)}</Text>
              {cell(formatLocalTime(new Date(s.time), true), cols.time)}
              {cols.host ? fitText(printable(s.hostname), cols.host - 1) + ' ' : ''}
              {cols.tags ? (
                <Text color="cyan">{fitText(printable(s.tags.join(',')), cols.tags - 1)} </Text>
              ) : (
                ''
              )}
              {cols.files ? cell(formatCount(s.summary.files), cols.files - 1, 'right') + ' ' : ''}
              {cols.size ? cell(formatBytes(s.summary.bytes), cols.size - 1, 'right') + ' ' : ''}
              {cols.paths ? ` ${fitText(printable(s.paths.join(' ')), cols.paths - 1)}` : ''}
            </Text>
          );
        }}
      />
      <Text wrap="truncate-end">
        {props.loading ? <Spinner label="loading snapshots" /> : null}
        {props.loading ? ' · ' : ''}
        {formatCount(rows.length)}/{plural(refs.length, 'snapshot')}
        {state.filter ? ` · filter: ${JSON.stringify(state.filter)}` : ''}
        {state.mark ? ` · compare from ${shortId(state.mark)}` : ''}
        {props.error ? <Text color="red"> · error: {props.error}</Text> : null}
        {state.message ? <Text color="yellow"> · {state.message}</Text> : null}
      </Text>
      {state.editing ? (
        <TextField label="Filter (text, tag:NAME, host:NAME): " value={state.filter} focused />
      ) : (
        <Text dimColor wrap="truncate-end">
          ↑↓ move · Enter browse · / filter · c compare · r restore all · R reload · ? help · q quit
        </Text>
      )}
    </Box>
  );
}
