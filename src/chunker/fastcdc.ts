/**
 * FastCDC 2020 over in-memory buffers, cutting exactly where fastcdc-rs v2020 cuts.
 *
 * `FastCDC` is the prepared form of one parameter set (seeded tables and masks computed
 * once); the free functions accept either a `ChunkerParams` (prepared once per params
 * object and cached) or a `FastCDC`.
 */
import { UsageError } from '../core/errors.js';
import { isAllZero } from '../core/zeros.js';
import { masksFor, seededGear } from './gear.js';
import { type ChunkerParams, chunkerParams } from './params.js';
import {
  activate,
  findCut,
  maskHigh,
  maskLow,
  type SplitTables,
  splitTable,
  wordView,
} from './scan.js';
import { findCutWasm, type WasmTables, wasmScanEnabled } from './scan-wasm.js';

/** One chunk of a buffer: `data[offset .. offset + length)`. */
export interface ChunkSpan {
  offset: number;
  length: number;
}

/** A prepared chunker: one parameter set with its seeded tables and masks. */
export class FastCDC {
  /** The normalised parameters. */
  readonly params: ChunkerParams;
  private readonly min: number;
  private readonly avg: number;
  private readonly max: number;
  private readonly tables: SplitTables;
  private readonly hardLow: number;
  private readonly hardHigh: number;
  private readonly easyLow: number;
  private readonly easyHigh: number;
  private readonly wasmTables: WasmTables;

  /** Prepares `params` (validated again, so a hand-made object cannot slip through). */
  constructor(params: ChunkerParams) {
    this.params = chunkerParams(params);
    this.min = this.params.min;
    this.avg = this.params.avg;
    this.max = this.params.max;
    const gear = seededGear(this.params.seed);
    this.tables = splitTable(gear);
    const { hard, easy } = masksFor(this.avg, this.params.level);
    this.wasmTables = { gear, hard, easy };
    this.hardLow = maskLow(hard);
    this.hardHigh = maskHigh(hard);
    this.easyLow = maskLow(easy);
    this.easyHigh = maskHigh(easy);
  }

  /**
   * Length of the chunk that starts at `start`, when `end` is the end of the input
   * available (treated as the end of the data, exactly like fastcdc-rs with
   * `remaining = end - start`). Returns 0 when `start === end`.
   *
   * @throws UsageError when not `0 <= start <= end <= data.length` (integers).
   */
  cut(data: Uint8Array, start = 0, end: number = data.length): number {
    checkRange(data, start, end);
    return this.cutWith(data, end - start > this.min ? wordView(data) : null, start, end);
  }

  /**
   * `cut` without argument checks, with a word view of `data` made by the caller
   * (`wordView(data)` or null), for callers that cut one buffer many times.
   * @internal
   */
  cutWith(data: Uint8Array, words: Int32Array | null, start: number, end: number): number {
    const n = end - start;
    if (n <= this.min) return n;
    // A run of zeros (a hole of a sparse file, a zeroed disk image) is cut where `max`
    // zeros are: the hash is a function of the bytes alone, and the scan reads fewer
    // than `max` of them. Asking costs two loads for most data, a memcmp for zeros.
    const max = this.max;
    if (n >= max && data[start] === 0 && data[start + max - 1] === 0) {
      if (isAllZero(data.subarray(start, start + max))) return this.zeroRunCut();
    }
    return this.scan(data, words, start, n);
  }

  /** Where a run of at least `max` zeros is cut (found once). */
  private zeroCut = 0;

  private zeroRunCut(): number {
    if (this.zeroCut === 0) {
      const zeros = new Uint8Array(this.max);
      this.zeroCut = this.scan(zeros, wordView(zeros), 0, this.max);
    }
    return this.zeroCut;
  }

  /** The cut search proper, for `n` (> min) bytes at `start`. */
  private scan(data: Uint8Array, words: Int32Array | null, start: number, n: number): number {
    let remaining = n;
    let center = this.avg;
    if (remaining > this.max) remaining = this.max;
    else if (remaining < center) center = remaining;
    const from = start + (this.min & ~1);
    const mid = start + (center & ~1);
    const stop = start + (remaining & ~1);
    let hit: number;
    if (wasmScanEnabled()) {
      hit = findCutWasm(this.wasmTables, data, from, mid, stop);
    } else {
      activate(this.tables);
      const { hardLow, hardHigh, easyLow, easyHigh } = this;
      hit = findCut(data, words, from, mid, stop, hardLow, hardHigh, easyLow, easyHigh);
    }
    return hit < 0 ? remaining : hit - start;
  }

  /** The chunks of `data`, in order; they are contiguous and cover it exactly. */
  *spans(data: Uint8Array): Generator<ChunkSpan> {
    checkRange(data, 0, data.length);
    const words = wordView(data);
    const end = data.length;
    let offset = 0;
    while (offset < end) {
      const length = this.cutWith(data, words, offset, end);
      yield { offset, length };
      offset += length;
    }
  }

  /** All chunks of `data` as an array. */
  cutPoints(data: Uint8Array): ChunkSpan[] {
    checkRange(data, 0, data.length);
    const out: ChunkSpan[] = [];
    const words = wordView(data);
    const end = data.length;
    let offset = 0;
    while (offset < end) {
      const length = this.cutWith(data, words, offset, end);
      out.push({ offset, length });
      offset += length;
    }
    return out;
  }
}

function checkRange(data: Uint8Array, start: number, end: number): void {
  if (!(data instanceof Uint8Array)) {
    throw new UsageError('chunker: data must be a Uint8Array');
  }
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end) {
    throw new UsageError(`chunker: bad range start ${start}, end ${end}`);
  }
  if (end > data.length) {
    throw new UsageError(`chunker: end ${end} is past the data length ${data.length}`);
  }
}

const prepared = new WeakMap<ChunkerParams, FastCDC>();

/**
 * The prepared chunker for `params`: returned as is if already a FastCDC, otherwise made
 * once per params object and cached (weakly).
 */
export function prepareChunker(params: ChunkerParams | FastCDC): FastCDC {
  if (params instanceof FastCDC) return params;
  let cdc = prepared.get(params);
  if (cdc === undefined) {
    cdc = new FastCDC(params);
    prepared.set(params, cdc);
  }
  return cdc;
}

/**
 * Length of the next chunk of `data[start..end)`; `end` is the end of the available input,
 * treated as the end of the data for that chunk (fastcdc-rs with `remaining = end - start`).
 */
export function cutLength(
  data: Uint8Array,
  start: number,
  end: number,
  params: ChunkerParams | FastCDC,
): number {
  return prepareChunker(params).cut(data, start, end);
}

/** All chunks of an in-memory buffer. */
export function cutPoints(data: Uint8Array, params: ChunkerParams | FastCDC): ChunkSpan[] {
  return prepareChunker(params).cutPoints(data);
}

/** The chunks of an in-memory buffer, lazily. */
export function chunkSpans(
  data: Uint8Array,
  params: ChunkerParams | FastCDC,
): Generator<ChunkSpan> {
  return prepareChunker(params).spans(data);
}
