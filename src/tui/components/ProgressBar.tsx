/** A horizontal bar with a percentage, for restore progress. */
import { Text } from 'ink';

/** `done` of `total` as a bar `width` columns wide (bar and percentage). */
export function ProgressBar({
  done,
  total,
  width,
}: {
  done: number;
  total: number;
  width: number;
}) {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : done > 0 ? 1 : 0;
  const barWidth = Math.max(4, width - 6);
  const filled = Math.round(fraction * barWidth);
  return (
    <Text>
      <Text color="green">{'█'.repeat(filled)}</Text>
      <Text dimColor>{'░'.repeat(barWidth - filled)}</Text>
      <Text>{` ${String(Math.floor(fraction * 100)).padStart(3)}%`}</Text>
    </Text>
  );
}
