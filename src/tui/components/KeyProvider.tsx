/** The app's one keyboard subscription, feeding the handlers registered by `useKeys`. */
import { useInput } from 'ink';
import { type ReactNode, useState } from 'react';
import { dispatchKeys, KeyContext, type KeyRegistry } from '../hooks/use-keys.js';

/** Provides key input to every `useKeys` below it. */
export function KeyProvider({ children }: { children: ReactNode }) {
  const [registry] = useState<KeyRegistry>(() => new Set());
  useInput((input, key) => dispatchKeys(registry, input, key));
  return <KeyContext.Provider value={registry}>{children}</KeyContext.Provider>;
}
