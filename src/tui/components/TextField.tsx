/** A one-line text field (display only; its owner handles the keys). */
import { Text } from 'ink';

/** `label` followed by `value` and, when focused, a block cursor. */
export function TextField({
  label,
  value,
  focused,
}: {
  label: string;
  value: string;
  focused: boolean;
}) {
  return (
    <Text wrap="truncate-start">
      <Text bold={focused}>{label}</Text>
      <Text>{value}</Text>
      {focused ? <Text inverse> </Text> : null}
    </Text>
  );
}
