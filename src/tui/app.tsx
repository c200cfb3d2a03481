/**
 * The application: a title bar, then the snapshot list, a snapshot's tree, or two
 * snapshots compared, with the help screen over any of them. It follows the terminal
 * size, and each screen owns the keyboard while it is on top.
 */
import { Box, Text, useApp } from 'ink';
import { useState } from 'react';
import { shortId } from '../core/ids.js';
import type { Repository } from '../repo/repository.js';
import type { SnapshotRef } from '../repo/snapshots.js';
import { Browser } from './components/Browser.js';
import { HelpScreen, helpLineCount } from './components/HelpScreen.js';
import { KeyProvider } from './components/KeyProvider.js';
import { initialListState, SnapshotList } from './components/SnapshotList.js';
import { useKeys } from './hooks/use-keys.js';
import { useLatestState } from './hooks/use-latest-state.js';
import { useSnapshots } from './hooks/use-snapshots.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { clampCursor } from './model/scroll.js';

/** Props of App. */
export interface AppProps {
  repo: Repository;
  /** Called on Ctrl-C (when not given, ink's own handling exits). */
  onInterrupt?: () => void;
  /** Directory relative restore targets are resolved against (default: the process's). */
  cwd?: string;
}

type View =
  | { kind: 'list' }
  | { kind: 'browse'; snapshot: SnapshotRef }
  | { kind: 'compare'; before: SnapshotRef; after: SnapshotRef };

/** The whole terminal UI for one repository. */
export function App(props: AppProps) {
  return (
    <KeyProvider onInterrupt={props.onInterrupt}>
      <Screens {...props} />
    </KeyProvider>
  );
}

function Screens({ repo, cwd = process.cwd() }: AppProps) {
  const { exit } = useApp();
  const size = useTerminalSize();
  const snapshots = useSnapshots(repo);
  const [view, setView] = useState<View>({ kind: 'list' });
  const [help, getHelp, setHelp] = useLatestState<number | undefined>(undefined);
  const [list, getList, setList] = useLatestState(initialListState);

  // One line is left free: a frame as tall as the terminal makes ink redraw everything.
  const height = Math.max(4, size.rows - 1);
  const width = Math.max(20, size.columns);
  const bodyHeight = height - 1;
  const helpMax = Math.max(0, helpLineCount() - bodyHeight);

  useKeys((input, key) => {
    const top = getHelp() ?? 0;
    if (key.downArrow || input === 'j') setHelp(clampCursor(top + 1, helpMax + 1));
    else if (key.upArrow || input === 'k') setHelp(clampCursor(top - 1, helpMax + 1));
    else if (input === 'q') exit();
    else setHelp(undefined);
  }, help !== undefined);

  const showHelp = () => setHelp(0);
  const back = () => setView({ kind: 'list' });
  const screensActive = help === undefined;

  let title = 'snapshots';
  if (view.kind === 'browse') title = `snapshot ${shortId(view.snapshot.id)}`;
  if (view.kind === 'compare') {
    title = `compare ${shortId(view.before.id)} → ${shortId(view.after.id)}`;
  }

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text inverse bold wrap="truncate-end">
        {` cairn · ${repo.location} · ${title} `.padEnd(width)}
      </Text>
      {help !== undefined ? <HelpScreen height={bodyHeight} top={help} /> : null}
      <Box display={help !== undefined ? 'none' : 'flex'} flexDirection="column">
        {view.kind === 'list' ? (
          <SnapshotList
            repo={repo}
            refs={snapshots.refs}
            loading={snapshots.loading}
            error={snapshots.error}
            width={width}
            height={bodyHeight}
            cwd={cwd}
            active={screensActive}
            state={list}
            getState={getList}
            setState={setList}
            onOpen={(snapshot) => setView({ kind: 'browse', snapshot })}
            onCompare={(before, after) => setView({ kind: 'compare', before, after })}
            onReload={snapshots.reload}
            onQuit={exit}
            onHelp={showHelp}
          />
        ) : (
          <Browser
            key={view.kind === 'browse' ? view.snapshot.id : `${view.before.id}:${view.after.id}`}
            repo={repo}
            snapshot={view.kind === 'browse' ? view.snapshot : view.after}
            base={view.kind === 'compare' ? view.before : undefined}
            cwd={cwd}
            width={width}
            height={bodyHeight}
            active={screensActive}
            onBack={back}
            onQuit={exit}
            onHelp={showHelp}
          />
        )}
      </Box>
    </Box>
  );
}
