/**
 * The cut search on WebAssembly (scan.wat, assembled into scan-wasm-bytes.ts): the same
 * cut points as scan.ts at about 2.5 times its speed, since WebAssembly has the 64-bit
 * integers the gear hash needs (docs/performance.md › Chunker).
 *
 * The bytes to cut must be in a module instance's memory:
 * - `takeScanBuffer(size)` lends a buffer that is the data area of an instance of its
 *   own; cutting inside it copies nothing. The readers of the backup's data path
 *   (repo/chunk-job.ts) read files into such buffers. `giveBackScanBuffer` keeps a few
 *   per thread for the next file: a new instance reserves its address space afresh.
 * - Any other buffer is copied into this thread's scratch instance a piece at a time.
 *
 * `CAIRN_CHUNKER=js` makes every cut use scan.ts instead (and these buffers plain ones);
 * so does a Node where WebAssembly cannot run (`--jitless`).
 */
import { UsageError } from '../core/errors.js';
import { SCAN_WASM_BASE64 } from './scan-wasm-bytes.js';

/** Where scan.wat expects its inputs (see its header). */
const TABLE_AT = 0;
const HARD_MASK_AT = 2048;
const EASY_MASK_AT = 2056;
const DATA_AT = 4096;
const WASM_PAGE = 65536;

/** Bytes copied into the scratch instance per call, for buffers outside the module. */
const PIECE_BYTES = 64 * 1024;

/** Free scan buffers kept per thread for each size. */
const KEPT_PER_SIZE = 4;

/** One seeded gear table and mask pair in the form the module reads. */
export interface WasmTables {
  readonly gear: BigUint64Array;
  readonly hard: bigint;
  readonly easy: bigint;
}

/** The parts of the WebAssembly global used here (@types/node 20 does not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}
type WasmModule = { readonly kind: 'WebAssembly.Module' };

/** What scan.wat exports. */
interface ScanExports {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  scan(p: number, stop: number, easy: number, reset: number): number;
}

/** An instance of the module with room for `capacity` bytes of data. */
class Scanner {
  readonly scan: ScanExports['scan'];
  /** The data area: [DATA_AT, DATA_AT + capacity) of the memory. */
  readonly data: Uint8Array;
  private readonly view: DataView;
  private loaded: WasmTables | undefined;

  constructor(api: WasmApi, module: WasmModule, capacity: number) {
    const exports = new api.Instance(module, {}).exports as ScanExports;
    const pages = Math.ceil((DATA_AT + capacity) / WASM_PAGE);
    const have = exports.memory.buffer.byteLength / WASM_PAGE;
    if (pages > have) exports.memory.grow(pages - have);
    // Never grown again, so these views stay valid.
    const buffer = exports.memory.buffer;
    this.scan = exports.scan;
    this.data = new Uint8Array(buffer, DATA_AT, capacity);
    this.view = new DataView(buffer);
  }

  /** Makes `tables` the ones the next scans use (a 2 KiB copy, only when they change). */
  load(tables: WasmTables): void {
    if (this.loaded === tables) return;
    new BigUint64Array(this.view.buffer, TABLE_AT, 256).set(tables.gear);
    this.view.setBigUint64(HARD_MASK_AT, tables.hard, true);
    this.view.setBigUint64(EASY_MASK_AT, tables.easy, true);
    this.loaded = tables;
  }
}

/** The WebAssembly global, absent under `node --jitless`. */
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
let compiled: WasmModule | null | undefined;

/** The compiled module, or null when the TypeScript scan is to be used. */
function scanModule(): WasmModule | null {
  if (compiled !== undefined) return compiled;
  const wanted = process.env.CAIRN_CHUNKER;
  if (wanted !== undefined && wanted !== '' && wanted !== 'js' && wanted !== 'wasm') {
    throw new UsageError(`CAIRN_CHUNKER must be wasm, js or unset, not ${JSON.stringify(wanted)}`);
  }
  compiled = null;
  if (wanted === 'js') return compiled;
  try {
    compiled = compile();
  } catch (err) {
    if (wanted === 'wasm') {
      compiled = undefined; // refused again at the next cut
      throw new UsageError(`CAIRN_CHUNKER=wasm, but WebAssembly does not run here: ${err}`);
    }
  }
  return compiled;
}

function compile(): WasmModule {
  if (!wasmApi) throw new Error('no WebAssembly global');
  return new wasmApi.Module(Buffer.from(SCAN_WASM_BASE64, 'base64'));
}

/**
 * Makes this thread's cuts use `engine` from now on, whatever CAIRN_CHUNKER says (tests
 * and the chunker bench compare the two).
 * @internal
 */
export function setScanEngine(engine: 'wasm' | 'js'): void {
  compiled = engine === 'js' ? null : compile();
  free.clear();
}

/** True when cuts run on WebAssembly (false: scan.ts). */
export function wasmScanEnabled(): boolean {
  return scanModule() !== null;
}

/** The scanner owning each lent buffer's memory, by that memory. */
const owners = new WeakMap<ArrayBufferLike, Scanner>();
/** Lent buffers given back, by size. */
const free = new Map<number, Uint8Array[]>();
let scratch: Scanner | undefined;

/**
 * A buffer of `size` bytes that cuts copy nothing from (contents undefined). Give it
 * back with `giveBackScanBuffer` once no view of it is used any more.
 */
export function takeScanBuffer(size: number): Uint8Array {
  const kept = free.get(size)?.pop();
  if (kept) return kept;
  const module = scanModule();
  if (module === null) return new Uint8Array(size);
  const scanner = new Scanner(wasmApi!, module, size);
  owners.set(scanner.data.buffer, scanner);
  return scanner.data;
}

/**
 * True when `buffer` came from `takeScanBuffer` as WebAssembly memory, whose data area
 * starts on a 4 KiB boundary (the memory starts on a page): uncached reads may fill it.
 */
export function isAlignedScanBuffer(buffer: Uint8Array): boolean {
  return owners.has(buffer.buffer) && buffer.byteOffset % 4096 === 0;
}

/** Returns a buffer from `takeScanBuffer` for reuse on this thread. */
export function giveBackScanBuffer(buffer: Uint8Array): void {
  const list = free.get(buffer.length) ?? [];
  if (list.length >= KEPT_PER_SIZE || list.includes(buffer)) return;
  list.push(buffer);
  free.set(buffer.length, list);
}

/** Drops the buffers kept for reuse (a pool closing on the calling thread). */
export function dropKeptScanBuffers(): void {
  free.clear();
}

/**
 * The cut search of scan.ts's `findCut` on WebAssembly: hash 0 before `from`, the hard
 * mask on [from, center), the easy one on [center, stop); the first position (of `d`)
 * whose hash has no mask bit set, or -1. Only when `wasmScanEnabled()`.
 */
export function findCutWasm(
  tables: WasmTables,
  d: Uint8Array,
  from: number,
  center: number,
  stop: number,
): number {
  const owner = owners.get(d.buffer);
  // Only views of the data area are cut in place; a view reaching below it (made from
  // the memory's buffer directly) would overlap the tables: copied like any buffer.
  if (owner && d.byteOffset >= DATA_AT) {
    owner.load(tables);
    // Positions in the module's memory: `d` is a view of it.
    const base = d.byteOffset;
    let hit = owner.scan(base + from, base + center, 0, 1);
    if (hit < 0) hit = owner.scan(base + center, base + stop, 1, 0);
    return hit < 0 ? -1 : hit - base;
  }
  scratch ??= new Scanner(wasmApi!, scanModule()!, PIECE_BYTES);
  scratch.load(tables);
  let reset = 1;
  for (const [lo, hi, easy] of [
    [from, center, 0],
    [center, stop, 1],
  ] as const) {
    for (let p = lo; p < hi; p += PIECE_BYTES) {
      const q = Math.min(p + PIECE_BYTES, hi);
      scratch.data.set(d.subarray(p, q));
      const hit = scratch.scan(DATA_AT, DATA_AT + (q - p), easy, reset);
      reset = 0;
      if (hit >= 0) return hit - DATA_AT + p;
    }
  }
  return -1;
}
