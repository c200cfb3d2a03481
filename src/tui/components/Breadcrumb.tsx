/** Where the browser is: the snapshot and the directory path, cut from the left if long. */
import { Text } from 'ink';
import { printable } from '../format.js';

/** `label:/a/b/c`, truncated at the start so the current directory stays visible. */
export function Breadcrumb({ label, names }: { label: string; names: readonly string[] }) {
  const path = `/${names.map(printable).join('/')}`;
  return (
    <Text wrap="truncate-start">
      <Text color="cyan">{label}</Text>
      <Text bold>{path}</Text>
    </Text>
  );
}
