/**
 * The tree browser: one snapshot's directories, or two snapshots compared.
 *
 * Move with arrows or hjkl, Enter to go in (or preview a file), Backspace to go up;
 * sort by name, size or time; `/` narrows the current directory to matching names.
 * Space marks files and whole directories for restore, `r` opens the restore dialog.
 * Comparing marks rows added (+), removed (-), modified (~) or with changed metadata
 * (*), using `diffTrees`; `f` shows only what changed.
 *
 * Only the rows on screen are drawn, and listings load in the background, so a
 * directory with 100,000 entries opens at once and keys keep working while it loads.
 */
import { Box, type Key, Text } from 'ink';
import { type ReactNode, useMemo, useRef, useState } from 'react';
import { shortId } from '../../core/ids.js';
import type { FileEntry } from '../../manifest/types.js';
import type { ChangeKind } from '../../ops/diff.js';
import type { Repository } from '../../repo/repository.js';
import type { SnapshotRef } from '../../repo/snapshots.js';
import { formatBytes, formatCount, plural } from '../format.js';
import { type DiffState, useDiff } from '../hooks/use-diff.js';
import { useDirectory } from '../hooks/use-directory.js';
import { isBackspace, useKeys } from '../hooks/use-keys.js';
import { useLatestState } from '../hooks/use-latest-state.js';
import { arrange, SORT_KEYS, type SortKey } from '../model/arrange.js';
import { childSource, type DirSource, type Item, weightOf } from '../model/items.js';
import { ListingCache } from '../model/listing.js';
import { joinPath } from '../model/paths.js';
import { clampCursor, scrollOffset } from '../model/scroll.js';
import { Selection, type Weight } from '../model/selection.js';
import { Breadcrumb } from './Breadcrumb.js';
import { EntryHeader, EntryRow, entryColumns, type RowMarker } from './EntryRow.js';
import { Preview } from './Preview.js';
import { RestoreDialog } from './RestoreDialog.js';
import { Spinner } from './Spinner.js';
import { TextField } from './TextField.js';
import { VirtualList } from './VirtualList.js';

/** Props of Browser. */
export interface BrowserProps {
  repo: Repository;
  /** The snapshot browsed (comparing: the newer one). */
  snapshot: SnapshotRef;
  /** Comparing: the older snapshot. */
  base?: SnapshotRef;
  /** Directory relative restore targets are resolved against. */
  cwd: string;
  width: number;
  height: number;
  /** False while something above (the help screen) has the keyboard. */
  active: boolean;
  /** Leave the browser (back to the snapshot list). */
  onBack: () => void;
  onQuit: () => void;
  onHelp: () => void;
}

/** One directory on the way down from the root. */
interface Level {
  path: string;
  names: string[];
  source: DirSource;
  weight: Weight;
  cursor: number;
  offset: number;
  /** The search narrowing this directory (`/`). */
  query: string;
}

type Overlay =
  | { kind: 'none' }
  | { kind: 'preview'; file: FileEntry; path: string }
  | { kind: 'restore'; selection: Selection; what: string };

interface BrowserState {
  stack: Level[];
  sort: SortKey;
  reverse: boolean;
  searching: boolean;
  changedOnly: boolean;
  selection: Selection;
  overlay: Overlay;
  /** A one-time note for the status line, cleared by the next key. */
  message?: string;
}

const MARKERS: Record<ChangeKind | 'inside' | 'none', RowMarker> = {
  added: { text: ' + ', color: 'green' },
  removed: { text: ' - ', color: 'red' },
  modified: { text: ' ~ ', color: 'yellow' },
  inside: { text: ' ~ ', color: 'yellow' },
  metadata: { text: ' * ', color: 'gray' },
  none: { text: '   ' },
};

/** Largest directory whose entries are checked for "all selected" after each Space. */
const COLLAPSE_MAX = 20_000;

const SELECT_MARKERS = {
  all: { text: '[x]', color: 'green' },
  some: { text: '[-]', color: 'yellow' },
  none: { text: '[ ]', color: 'gray' },
} as const;

/** How a compared path changed, for its marker and the changes-only filter. */
function changeOf(diff: DiffState, path: string): ChangeKind | 'inside' | 'none' {
  const change = diff.changes.get(path);
  if (change && change !== 'metadata') return change;
  if (diff.dirty.has(path)) return 'inside';
  return change ?? 'none';
}

/** The browser; it owns the keyboard while `active` and no dialog is open. */
export function Browser(props: BrowserProps) {
  const { repo, snapshot, base, width, height, active } = props;
  const compare = base !== undefined;
  const [cache] = useState(() => new ListingCache());
  const [state, get, set] = useLatestState<BrowserState>(() => ({
    stack: [
      {
        path: '',
        names: [],
        source: compare
          ? { before: base.snapshot.tree, after: snapshot.snapshot.tree, compare }
          : { after: snapshot.snapshot.tree, compare },
        weight: { files: snapshot.snapshot.summary.files, bytes: snapshot.snapshot.summary.bytes },
        cursor: 0,
        offset: 0,
        query: '',
      },
    ],
    sort: 'name',
    reverse: false,
    searching: false,
    changedOnly: false,
    selection: Selection.empty(),
    overlay: { kind: 'none' },
  }));
  const level = state.stack[state.stack.length - 1] as Level;
  const dir = useDirectory(repo, level.source, cache);
  const diff = useDiff(repo, base?.snapshot.tree, compare ? snapshot.snapshot.tree : undefined);

  const keep = useMemo(() => {
    if (!compare || !state.changedOnly) return undefined;
    return (it: Item) => changeOf(diff, joinPath(level.path, it.entry.name)) !== 'none';
  }, [compare, state.changedOnly, diff, level.path]);
  // `dir` is a new object whenever more rows have arrived (its array grows in place).
  const rows = useMemo(
    () =>
      arrange(dir.items, { sort: state.sort, reverse: state.reverse, query: level.query, keep }),
    [dir, state.sort, state.reverse, level.query, keep],
  );

  const listHeight = Math.max(1, height - 4);
  const cursor = clampCursor(level.cursor, rows.length);
  const offset = scrollOffset(cursor, level.offset, listHeight, rows.length);
  const view = useRef({ rows, listHeight, dir });
  view.current = { rows, listHeight, dir };

  const updateTop = (fn: (l: Level) => Level) =>
    set((s) => ({
      ...s,
      stack: [...s.stack.slice(0, -1), fn(s.stack[s.stack.length - 1] as Level)],
    }));
  const moveTo = (target: number) =>
    updateTop((l) => {
      const { rows: r, listHeight: h } = view.current;
      const c = clampCursor(target, r.length);
      return { ...l, cursor: c, offset: scrollOffset(c, l.offset, h, r.length) };
    });
  const note = (message: string) => set((s) => ({ ...s, message }));

  const open = (item: Item | undefined) => {
    if (!item) return;
    const top = get().stack[get().stack.length - 1] as Level;
    const path = joinPath(top.path, item.entry.name);
    const source = childSource(item, compare);
    if (source) {
      set((s) => ({
        ...s,
        searching: false,
        stack: [
          ...s.stack,
          {
            path,
            names: [...top.names, item.entry.name],
            source,
            weight: weightOf(item.entry),
            cursor: 0,
            offset: 0,
            query: '',
          },
        ],
      }));
    } else if (item.entry.kind === 'file') {
      set((s) => ({ ...s, overlay: { kind: 'preview', file: item.entry as FileEntry, path } }));
    } else {
      note(
        `${item.entry.kind === 'symlink' ? 'a symbolic link' : `a ${item.entry.kind}`}: nothing to open`,
      );
    }
  };

  const up = () => {
    if (get().stack.length > 1)
      set((s) => ({ ...s, searching: false, stack: s.stack.slice(0, -1) }));
    else props.onBack();
  };

  const startRestore = () => {
    const s = get();
    if (compare) {
      note('restore from the browse view: Esc, then Enter on a snapshot');
      return;
    }
    if (!s.selection.isEmpty) {
      const what = `${plural(s.selection.files, 'file')}, ${formatBytes(s.selection.bytes)} selected`;
      set({ ...s, overlay: { kind: 'restore', selection: s.selection, what } });
      return;
    }
    const top = s.stack[s.stack.length - 1] as Level;
    const item = view.current.rows[clampCursor(top.cursor, view.current.rows.length)];
    if (!item) {
      note('nothing to restore here');
      return;
    }
    const path = joinPath(top.path, item.entry.name);
    const selection = Selection.of(path, weightOf(item.entry));
    set({ ...s, overlay: { kind: 'restore', selection, what: `/${path}` } });
  };

  const listKeys = (input: string, key: Key) => {
    const s = get();
    if (s.message) set({ ...s, message: undefined });
    const top = s.stack[s.stack.length - 1] as Level;
    if (s.searching) {
      if (key.return) set((x) => ({ ...x, searching: false }));
      else if (key.escape) {
        set((x) => ({ ...x, searching: false }));
        updateTop((l) => ({ ...l, query: '', cursor: 0, offset: 0 }));
      } else if (isBackspace(key))
        updateTop((l) => ({ ...l, query: l.query.slice(0, -1), cursor: 0 }));
      else if (key.ctrl && input === 'u') updateTop((l) => ({ ...l, query: '', cursor: 0 }));
      else if (key.upArrow || key.downArrow) set((x) => ({ ...x, searching: false }));
      else if (input && !key.ctrl && !key.meta && input >= ' ') {
        updateTop((l) => ({ ...l, query: l.query + input, cursor: 0, offset: 0 }));
      }
      return;
    }
    const { rows: r, listHeight: h } = view.current;
    const at = clampCursor(top.cursor, r.length);
    if (key.upArrow || input === 'k') moveTo(at - 1);
    else if (key.downArrow || input === 'j') moveTo(at + 1);
    else if (key.pageUp || (key.ctrl && input === 'b')) moveTo(at - h);
    else if (key.pageDown || (key.ctrl && input === 'f')) moveTo(at + h);
    else if (key.home || input === 'g') moveTo(0);
    else if (key.end || input === 'G') moveTo(r.length - 1);
    else if (key.return || key.rightArrow || input === 'l') open(r[at]);
    else if (isBackspace(key) || key.leftArrow || input === 'h') up();
    else if (key.escape) {
      if (top.query) updateTop((l) => ({ ...l, query: '', cursor: 0, offset: 0 }));
      else props.onBack();
    } else if (input === ' ') {
      const item = r[at];
      if (compare) note('select files in the browse view: Esc, then Enter on a snapshot');
      else if (item) {
        const path = joinPath(top.path, item.entry.name);
        const { items, done } = view.current.dir;
        // Whole-directory check: cheap next to a key press up to this many entries.
        const children =
          done && items.length <= COLLAPSE_MAX
            ? items.map((it) => joinPath(top.path, it.entry.name))
            : [];
        set((x) => ({
          ...x,
          selection: x.selection
            .toggle(path, weightOf(item.entry))
            .collapse(top.path, top.weight, children),
        }));
        moveTo(at + 1);
      }
    } else if (input === 'a') {
      if (compare) note('select files in the browse view');
      else set((x) => ({ ...x, selection: x.selection.toggle(top.path, top.weight) }));
    } else if (input === 'u') set((x) => ({ ...x, selection: Selection.empty() }));
    else if (input === 's') {
      const next = SORT_KEYS[(SORT_KEYS.indexOf(s.sort) + 1) % SORT_KEYS.length] as SortKey;
      set((x) => ({ ...x, sort: next, reverse: false }));
    } else if (input === 'S') set((x) => ({ ...x, reverse: !x.reverse }));
    else if (input === '/') set((x) => ({ ...x, searching: true }));
    else if (input === 'f') {
      if (compare) set((x) => ({ ...x, changedOnly: !x.changedOnly }));
      else note('f (changes only) works when comparing two snapshots');
    } else if (input === 'p') {
      const item = r[at];
      if (item?.entry.kind === 'file') open(item);
    } else if (input === 'r') startRestore();
    else if (input === '?') props.onHelp();
    else if (input === 'q') props.onQuit();
  };
  useKeys(listKeys, active && state.overlay.kind === 'none');

  const closeOverlay = () => set((s) => ({ ...s, overlay: { kind: 'none' } }));
  const label = compare
    ? `${shortId(base.id)}→${shortId(snapshot.id)}:`
    : `${shortId(snapshot.id)}:`;
  const columns = entryColumns(width);

  let body: ReactNode;
  if (state.overlay.kind === 'preview') {
    body = (
      <Preview
        repo={repo}
        file={state.overlay.file}
        path={state.overlay.path}
        height={height - 1}
        active={active}
        onClose={closeOverlay}
        onQuit={props.onQuit}
      />
    );
  } else if (state.overlay.kind === 'restore') {
    body = (
      <Box height={height - 1} flexDirection="column">
        <RestoreDialog
          repo={repo}
          snapshot={snapshot}
          selection={state.overlay.selection}
          what={state.overlay.what}
          cwd={props.cwd}
          width={width}
          active={active}
          onClose={closeOverlay}
          onQuit={props.onQuit}
        />
      </Box>
    );
  } else {
    body = (
      <>
        <EntryHeader columns={columns} sort={state.sort} />
        <VirtualList
          rows={rows}
          offset={offset}
          height={listHeight}
          cursor={cursor}
          empty={
            <Text dimColor>
              {dir.done
                ? level.query
                  ? '  no names match the search'
                  : '  (empty directory)'
                : ' '}
            </Text>
          }
          renderRow={(item, _index, isCursor) => {
            const path = joinPath(level.path, item.entry.name);
            const marker = compare
              ? MARKERS[changeOf(diff, path)]
              : SELECT_MARKERS[state.selection.stateOf(path)];
            return (
              <EntryRow
                key={item.entry.name}
                entry={item.entry}
                isCursor={isCursor}
                marker={marker}
                columns={columns}
                dim={compare && item.after === undefined}
              />
            );
          }}
        />
        <StatusLine
          position={rows.length === 0 ? 0 : cursor + 1}
          shown={rows.length}
          loaded={dir.count}
          loading={!dir.done}
          error={dir.error}
          state={state}
          query={level.query}
          diff={compare ? diff : undefined}
        />
        {state.searching ? (
          <TextField label="Search: " value={level.query} focused />
        ) : (
          <Text dimColor wrap="truncate-end">
            {compare
              ? '↑↓ move · Enter open · ⌫ up · f changes only · s sort · / search · Esc back · ? help · q quit'
              : '↑↓ move · Enter open · ⌫ up · Space select · r restore · s sort · / search · Esc back · ? help · q quit'}
          </Text>
        )}
      </>
    );
  }
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Breadcrumb label={label} names={level.names} />
      {body}
    </Box>
  );
}

function StatusLine(props: {
  position: number;
  shown: number;
  loaded: number;
  loading: boolean;
  error?: string;
  state: BrowserState;
  query: string;
  diff?: DiffState;
}) {
  const { state, diff } = props;
  const parts: ReactNode[] = [];
  // Each part has a key; a separator goes before every part but the first.
  const add = (key: string, node: ReactNode) => {
    if (parts.length > 0) parts.push(<Text key={`${key}-sep`}> · </Text>);
    parts.push(node);
  };
  let count = `${formatCount(props.position)}/${formatCount(props.shown)}`;
  if (props.shown !== props.loaded) count += ` of ${formatCount(props.loaded)}`;
  add('count', <Text key="count">{count}</Text>);
  if (props.loading) {
    add(
      'loading',
      <Spinner key="loading" label={`loading ${formatCount(props.loaded)} entries`} />,
    );
  }
  if (props.error)
    add(
      'error',
      <Text key="error" color="red">
        error: {props.error}
      </Text>,
    );
  add(
    'sort',
    <Text key="sort">
      sort: {state.sort}
      {state.reverse ? ' (reversed)' : ''}
    </Text>,
  );
  if (props.query) add('query', <Text key="query">search: {JSON.stringify(props.query)}</Text>);
  if (diff) {
    const s = diff.summary;
    add(
      'diff',
      <Text key="diff">
        <Text color="green">+{formatCount(s.added)}</Text>{' '}
        <Text color="red">-{formatCount(s.removed)}</Text>{' '}
        <Text color="yellow">~{formatCount(s.modified)}</Text>{' '}
        <Text color="gray">*{formatCount(s.metadata)}</Text>
        {state.changedOnly ? ' (changes only)' : ''}
      </Text>,
    );
    if (!diff.done) add('diffing', <Spinner key="diffing" label="comparing" />);
    if (diff.error)
      add(
        'differr',
        <Text key="differr" color="red">
          compare failed: {diff.error}
        </Text>,
      );
  } else if (!state.selection.isEmpty) {
    add(
      'sel',
      <Text key="sel" color="green">
        selected: {plural(state.selection.files, 'file')}, {formatBytes(state.selection.bytes)}
      </Text>,
    );
  }
  if (state.message)
    add(
      'msg',
      <Text key="msg" color="yellow">
        {state.message}
      </Text>,
    );
  return <Text wrap="truncate-end">{parts}</Text>;
}
