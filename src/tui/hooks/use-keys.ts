/**
 * Key input, one key at a time. ink hands over a whole chunk of printable input as
 * one string (pasted text, or keys typed faster than the app reads them); here such a
 * chunk is split into single keys, with Enter, Tab, Backspace and Escape recognised
 * inside it, so that `jj` moves twice and `/foo⏎` searches for foo.
 */
import { type Key, useInput } from 'ink';

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

/** A single key: its text (empty for special keys) and ink's flags. */
export type KeyHandler = (input: string, key: Key) => void;

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
    default:
      return [ch, { ...NO_KEY }];
  }
}

/**
 * True for Backspace. Terminals send DEL (0x7f) for it, which ink reports as
 * `delete`; ink reports ^H as `backspace`. Both mean "delete left" here.
 */
export function isBackspace(key: Key): boolean {
  return key.backspace || key.delete;
}

/** Calls `handler` for every key while `active`. */
export function useKeys(handler: KeyHandler, active = true): void {
  useInput(
    (input, key) => {
      if (input.length > 1 && !key.ctrl && !key.meta) {
        for (const ch of input) handler(...keyOf(ch));
        return;
      }
      handler(input, key);
    },
    { isActive: active },
  );
}
