/**
 * State that event handlers can read back at once. Several keys can arrive in one
 * input chunk and are handled before React re-renders; a handler reading ordinary
 * state would see the value from before the previous key. Here `get()` always returns
 * the latest value, and `set` updates it synchronously and schedules a render.
 */
import { useCallback, useRef, useState } from 'react';

/** `[state, get, set]`: the rendered value, the latest value, and a setter. */
export function useLatestState<T>(
  initial: T | (() => T),
): [T, () => T, (next: T | ((previous: T) => T)) => void] {
  const [state, setState] = useState(initial);
  const ref = useRef(state);
  const get = useCallback(() => ref.current, []);
  const set = useCallback((next: T | ((previous: T) => T)) => {
    ref.current = typeof next === 'function' ? (next as (p: T) => T)(ref.current) : next;
    setState(ref.current);
  }, []);
  return [state, get, set];
}
