/**
 * Key input, one key at a time, to whichever handlers are active now.
 *
 * One ink input subscription (made by KeyProvider) serves the whole app. Components
 * register their handler with `useKeys`; registration happens when a render is
 * committed (a layout effect), and the handler and its `active` flag are those of the
 * latest render. ink's own `useInput` subscribes in a passive effect, some time after
 * the frame is on screen: a key pressed at once would be lost by a dialog that just
 * opened, or reach a handler that has not seen newly loaded data.
 *
 * ink hands over a chunk of printable input as one string (pasted text, or keys typed
 * faster than the app reads them); it is split into single keys here, with Enter,
 * Tab, Backspace, Escape and Ctrl+letter recognised inside it, so `jj` moves twice and
 * a ^U that arrives with the text after it still clears the field first.
 */
import type { Key } from 'ink';
import { createContext, useContext, useLayoutEffect, useRef } from 'react';

/** A single key: its text (empty for special keys) and ink's flags. */
export type KeyHandler = (input: string, key: Key) => void;

/** A registered handler: the latest render's function and whether it listens. */
export interface KeyBinding {
  current: { handler: KeyHandler; active: boolean };
}

/** The handlers of one app, in registration order. */
export type KeyRegistry = Set<KeyBinding>;

/** Where `useKeys` registers (provided by KeyProvider). */
export const KeyContext = createContext<KeyRegistry | undefined>(undefined);

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/** The key for one character of a chunk. */
export function keyOf(ch: string): [string, Key] {
  switch (ch) {
    case '\r':
    case '\n':
      return ['', { ...NO_KEY, return: true }];
    case '\t':
      return ['', { ...NO_KEY, tab: true }];
    case '\x7f':
    case '\b':
      return ['', { ...NO_KEY, backspace: true }];
    case '\x1b':
      return ['', { ...NO_KEY, escape: true, meta: true }];
    default: {
      // ^A..^Z as ink reports them alone: the letter, with `ctrl`.
      const code = ch.charCodeAt(0);
      if (code >= 1 && code <= 26)
        return [String.fromCharCode(code + 96), { ...NO_KEY, ctrl: true }];
      return [ch, { ...NO_KEY }];
    }
  }
}

/** The single keys in what ink delivered (a chunk of text becomes one key per character). */
export function splitKeys(input: string, key: Key): Array<[string, Key]> {
  if (input.length > 1 && !key.ctrl && !key.meta) return Array.from(input, keyOf);
  return [[input, key]];
}

/**
 * Sends one delivery to every active handler. The active flags are read before any
 * handler runs, so a key that opens a dialog is not also handled by the dialog.
 */
export function dispatchKeys(registry: KeyRegistry, input: string, key: Key): void {
  for (const [i, k] of splitKeys(input, key)) {
    const active = [...registry].filter((b) => b.current.active);
    for (const b of active) b.current.handler(i, k);
  }
}

/**
 * True for Backspace. Terminals send DEL (0x7f) for it, which ink reports as
 * `delete`; ink reports ^H as `backspace`. Both mean "delete left" here.
 */
export function isBackspace(key: Key): boolean {
  return key.backspace || key.delete;
}

/** Calls `handler` for every key while `active` (inside a KeyProvider). */
export function useKeys(handler: KeyHandler, active = true): void {
  const registry = useContext(KeyContext);
  if (!registry) throw new Error('useKeys needs a KeyProvider above it');
  const binding = useRef<KeyBinding['current']>({ handler, active });
  binding.current = { handler, active };
  useLayoutEffect(() => {
    registry.add(binding);
    return () => {
      registry.delete(binding);
    };
  }, [registry]);
}
