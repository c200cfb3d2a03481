/**
 * V8 heap settings of the `cairn` process, applied from inside it (no wrapper script, no
 * NODE_OPTIONS) before any command runs.
 *
 * V8 doubles the main thread's young generation ("new space") each time a scavenge finds
 * it busy, up to 32 MiB on 64-bit Node 20. A backup or restore allocates steadily
 * (entries, encoded pages, blob buffers), so the new space reaches that maximum within
 * seconds and all of it is resident. The maximum can only be chosen when the heap is
 * created (`--max-semi-space-size`), but the growth factor is read each time the new
 * space grows: `capYoungGeneration` lets it double as usual until it reaches the cap,
 * then sets the factor to 1 so it stays there (and back to 2 if V8 shrinks it below).
 *
 * Measured (docs/performance.md, "Memory"): with an 8 MiB cap, peak RSS of a 1 GiB
 * restore 125-129 -> 105 MiB with the same CPU time (about 25% more, cheaper
 * scavenges). Without any growth (factor 1 from the start, 2 MiB) it was 101-107 MiB
 * but 4.5 times as many scavenges and 20-30% more CPU, hence the cap.
 *
 * Starting a worker thread resets the factor to 2, so the cap sets it again at every
 * collection report while it holds: before that, backups and restores (which start
 * worker threads after the cap is set) grew the young generation to 32 MiB anyway.
 *
 * V8 13 (Node 24) also grows the young generation in steps smaller than a doubling,
 * which the factor does not stop: there the cap only slows growth (a 2 MiB cap ended
 * at 7-10 MiB under a churn that takes it to 32 MiB uncapped).
 *
 * The old generation: after each full collection V8 lets it grow by a factor it picks
 * from how cheap collecting was, up to 4x. A walk promotes short-lived objects (a
 * directory's child results live as long as the directory) and collects cheaply, so
 * the factor stays high: in the first backup of 100,000 small files about 10 MiB
 * survived each full collection, but the heap grew to 45 MiB of garbage before the
 * next, 73 MiB committed. `limitOldGenerationGrowth` sets the factor to 1.25
 * (`--heap-growing-percent`, read at each collection, so it can be set here): 48-50
 * MiB committed, peak RSS 205 -> 175-180 MiB, no slower (docs/performance.md).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** Growth of the old generation after a full collection, in percent (see above). */
export const OLD_GENERATION_GROWTH_PERCENT = 25;

/** Default cap of the young generation, in bytes. */
export const YOUNG_GENERATION_CAP = 8 * 1024 * 1024;

const STOP_GROWTH = '--semi-space-growth-factor=1';
const DEFAULT_GROWTH = '--semi-space-growth-factor=2';

/** The current size of the main thread's young generation, in bytes. */
export function youngGenerationSize(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * Keeps the main thread's young generation from growing past about `capBytes` (it may
 * overshoot by one doubling: growth is checked after each garbage collection). Returns a
 * function that stops watching and restores V8's default growth.
 */
export function capYoungGeneration(capBytes: number = YOUNG_GENERATION_CAP): () => void {
  let stopped = false;
  const check = () => {
    const stop = youngGenerationSize() >= capBytes;
    // Set again at every report while stopped, not only when the state changes: starting
    // a worker thread puts the factor back to 2 (seen on Node 20; the flag is the whole
    // process's, and a new isolate's set-up resets it), and backups and restores start
    // workers after the cap is set. Being the process's, it also keeps the workers'
    // young generations from growing (they allocate little).
    if (stop === stopped && !stop) return;
    setFlagsFromString(stop ? STOP_GROWTH : DEFAULT_GROWTH);
    stopped = stop;
  };
  check();
  // One entry per collection, delivered when the event loop next turns: a synchronous
  // stretch with several scavenges in a row can overshoot the cap by a doubling or two.
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    if (stopped) setFlagsFromString(DEFAULT_GROWTH);
    stopped = false;
  };
}

/**
 * Lets the old generation grow by `percent` after each full collection instead of V8's
 * own factor (up to 300%); see the module comment. Applies to the whole process.
 */
export function limitOldGenerationGrowth(percent: number = OLD_GENERATION_GROWTH_PERCENT): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/** The heap settings of the `cairn` process: both of the above, with their defaults. */
export function applyHeapSettings(): void {
  capYoungGeneration();
  limitOldGenerationGrowth();
}
