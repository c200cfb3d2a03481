/**
 * Pacing long loops that run inside the UI process. Decoded tree pages are handed out
 * through promise callbacks, which run before any pending I/O: a loop over a large
 * directory would hold key presses back until it ends. The pacer yields to the event
 * loop every few milliseconds and says when enough time has passed to redraw.
 */

/** Resolves on a later turn of the event loop, after pending I/O callbacks. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Yields regularly and rate-limits redraws for a loop that produces results. */
export class Pacer {
  private lastYield = performance.now();
  private lastFlush = Number.NEGATIVE_INFINITY;

  /**
   * @param flushMs least time between two redraws (the first step always redraws)
   * @param sliceMs longest time the loop runs before letting other work in
   */
  constructor(
    private readonly flushMs = 50,
    private readonly sliceMs = 8,
  ) {}

  /** Call once per step; resolves true when the caller should publish its results. */
  async step(): Promise<boolean> {
    const now = performance.now();
    if (now - this.lastYield >= this.sliceMs) {
      await nextTurn();
      this.lastYield = performance.now();
    }
    if (now - this.lastFlush >= this.flushMs) {
      this.lastFlush = now;
      return true;
    }
    return false;
  }
}
