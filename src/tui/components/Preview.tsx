/**
 * A file preview: the first 64 KiB of a text file, scrollable; a hex dump of the
 * first bytes of a binary one. Content is read through the verifying blob store.
 */
import { Box, Text } from 'ink';
import type { FileEntry } from '../../manifest/types.js';
import type { Repository } from '../../repo/repository.js';
import { formatBytes, plural, printable } from '../format.js';
import { isBackspace, useKeys } from '../hooks/use-keys.js';
import { useLatestState } from '../hooks/use-latest-state.js';
import { usePreview } from '../hooks/use-preview.js';
import { hexDump, PREVIEW_LIMIT } from '../model/preview.js';
import { clampCursor } from '../model/scroll.js';
import { Spinner } from './Spinner.js';

/** Props of Preview. */
export interface PreviewProps {
  repo: Repository;
  file: FileEntry;
  /** The file's path in the snapshot, for the title. */
  path: string;
  height: number;
  active: boolean;
  onClose: () => void;
  onQuit: () => void;
}

/** The preview pane; it owns the keyboard while `active`. */
export function Preview({ repo, file, path, height, active, onClose, onQuit }: PreviewProps) {
  const state = usePreview(repo, file);
  const [top, getTop, setTop] = useLatestState(0);
  const data = state.data;
  const lines = data?.kind === 'text' ? data.lines : data ? hexDump(data.head) : [];
  const body = Math.max(1, height - 2);
  const maxTop = Math.max(0, lines.length - body);

  useKeys((input, key) => {
    const scroll = (to: number) => setTop(clampCursor(to, maxTop + 1));
    const t = getTop();
    if (key.escape || isBackspace(key) || key.leftArrow || key.return || input === 'h') onClose();
    else if (input === 'q') onQuit();
    else if (key.downArrow || input === 'j') scroll(t + 1);
    else if (key.upArrow || input === 'k') scroll(t - 1);
    else if (key.pageDown || input === ' ') scroll(t + body);
    else if (key.pageUp) scroll(t - body);
    else if (key.home || input === 'g') scroll(0);
    else if (key.end || input === 'G') scroll(maxTop);
  }, active);

  let title = `${printable(path)} · ${formatBytes(file.size)}`;
  if (data?.kind === 'text') {
    title += ` · ${plural(data.lines.length, 'line')}`;
    if (data.truncated) title += ` · first ${formatBytes(PREVIEW_LIMIT)} shown`;
  } else if (data?.kind === 'binary') {
    title += ` · binary, first ${formatBytes(data.head.length)} as hex`;
  }
  const first = Math.min(top, maxTop);
  return (
    <Box flexDirection="column" height={height}>
      <Text bold inverse wrap="truncate-end">
        {` ${title} `}
      </Text>
      <Box flexDirection="column" height={body} overflow="hidden">
        {state.error ? <Text color="red">Cannot preview: {state.error}</Text> : null}
        {!data && !state.error ? <Spinner label="reading…" /> : null}
        {lines.slice(first, first + body).map((line, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: rows are positions in a fixed list
          <Text key={first + i} wrap="truncate-end">
            {line === '' ? ' ' : line}
          </Text>
        ))}
      </Box>
      <Text dimColor wrap="truncate-end">
        ↑↓ scroll · Space page · g/G top/end · Esc close · q quit
        {lines.length > body
          ? ` · ${first + 1}-${Math.min(lines.length, first + body)}/${lines.length}`
          : ''}
      </Text>
    </Box>
  );
}
