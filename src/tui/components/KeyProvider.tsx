/** The app's one keyboard subscription, feeding the handlers registered by `useKeys`. */
import { useInput } from 'ink';
import { type ReactNode, useState } from 'react';
import { dispatchKeys, KeyContext, type KeyRegistry } from '../hooks/use-keys.js';

/**
 * Provides key input to every `useKeys` below it. Ctrl-C goes to `onInterrupt` (the
 * runner ends the UI as on SIGINT) and to no handler.
 */
export function KeyProvider({
  children,
  onInterrupt,
}: {
  children: ReactNode;
  onInterrupt?: (() => void) | undefined;
}) {
  const [registry] = useState<KeyRegistry>(() => new Set());
  useInput((input, key) => {
    if (onInterrupt && key.ctrl && input === 'c') onInterrupt();
    else dispatchKeys(registry, input, key);
  });
  return <KeyContext.Provider value={registry}>{children}</KeyContext.Provider>;
}
