/**
 * The note `backup` and `sync` print while a prune is deleting blobs and they wait for
 * it: said once, though the lock is polled every second.
 */
import type { Output } from './output.js';

export function lockWaitNote(out: Output): () => void {
  let said = false;
  return () => {
    if (said) return;
    said = true;
    out.line('waiting for a prune to finish deleting...');
  };
}
