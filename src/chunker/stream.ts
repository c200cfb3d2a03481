/**
 * Streaming FastCDC: the same cut points as `cutPoints` over the concatenated input,
 * however the input is split into pieces, with bounded memory.
 *
 * A cut is final once `max` bytes from the chunk start are available (fastcdc-rs looks
 * no further), so the chunker keeps fewer than `max` undecided bytes between pieces, in
 * a buffer of `2 * max` bytes (the slack lets it compact rarely). It copies into that
 * buffer only what a chunk spanning two pieces needs; otherwise it cuts inside the piece.
 * Every emitted chunk is a fresh copy the consumer may keep.
 */
import { throwIfAborted } from '../core/abort.js';
import { UsageError } from '../core/errors.js';
import { type FastCDC, prepareChunker } from './fastcdc.js';
import type { ChunkerParams } from './params.js';
import { wordView } from './scan.js';

/** A chunk of a stream: its bytes (a fresh copy) and its offset in the stream. */
export interface StreamChunk {
  offset: number;
  data: Uint8Array;
}

/** Push-style streaming chunker; `chunkStream` wraps it for async iterables. */
export class StreamChunker {
  private readonly cdc: FastCDC;
  private readonly max: number;
  private readonly buf: Uint8Array;
  private readonly words: Int32Array | null;
  /** Pending bytes are buf[head .. tail). */
  private head = 0;
  private tail = 0;
  /** Stream offset of buf[head]. */
  private offset = 0;
  private finished = false;

  constructor(params: ChunkerParams | FastCDC) {
    this.cdc = prepareChunker(params);
    this.max = this.cdc.params.max;
    this.buf = new Uint8Array(2 * this.max);
    this.words = wordView(this.buf);
  }

  /** Bytes received but not yet emitted (always less than `max` between calls). */
  get buffered(): number {
    return this.tail - this.head;
  }

  /** Size of the internal buffer: `2 * max`. It never grows. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Stream offset of the next chunk to be emitted. */
  get position(): number {
    return this.offset;
  }

  /**
   * Feeds one piece; yields every chunk whose cut point is now final. Iterate the result
   * to the end before the next `push` (the piece is consumed as the iteration advances).
   * The piece is not kept after that.
   */
  *push(piece: Uint8Array): Generator<StreamChunk> {
    if (this.finished) throw new UsageError('stream chunker: push after finish');
    if (!(piece instanceof Uint8Array)) {
      throw new UsageError(`stream chunker: pieces must be Uint8Arrays, got ${typeof piece}`);
    }
    const max = this.max;
    const len = piece.length;
    let pos = 0;
    // How many bytes at the end of the buffer are a copy of piece[pos - copied .. pos).
    let copied = 0;
    while (pos < len) {
      const pending = this.tail - this.head;
      if (pending === 0) {
        this.head = this.tail = 0;
        if (len - pos < max) {
          // Too little for a final cut: keep the rest for the next piece.
          this.buf.set(piece.subarray(pos), 0);
          this.tail = len - pos;
          return;
        }
        // A full window in the piece: cut in place, no copy into the buffer.
        const words = wordView(piece);
        while (len - pos >= max) {
          const n = this.cdc.cutWith(piece, words, pos, len);
          yield this.emit(piece, pos, n);
          pos += n;
        }
        continue;
      }
      // Top the pending bytes (fewer than max) up to one full window.
      const take = Math.min(max - pending, len - pos);
      if (this.tail + take > this.buf.length) this.compact();
      this.buf.set(piece.subarray(pos, pos + take), this.tail);
      this.tail += take;
      pos += take;
      copied += take;
      if (this.tail - this.head < max) return;
      const n = this.cdc.cutWith(this.buf, this.words, this.head, this.tail);
      yield this.emit(this.buf, this.head, n);
      this.head += n;
      const left = this.tail - this.head;
      if (left <= copied) {
        // What is left is a copy of the piece's bytes: go back to cutting in the piece.
        pos -= left;
        copied = 0;
        this.head = this.tail = 0;
      }
    }
  }

  /** Ends the stream; yields the remaining chunks. */
  *finish(): Generator<StreamChunk> {
    if (this.finished) return;
    this.finished = true;
    while (this.head < this.tail) {
      const n = this.cdc.cutWith(this.buf, this.words, this.head, this.tail);
      yield this.emit(this.buf, this.head, n);
      this.head += n;
    }
    this.head = this.tail = 0;
  }

  private emit(from: Uint8Array, at: number, length: number): StreamChunk {
    // A plain Uint8Array with its own memory (the typed-array constructor copies).
    const data = new Uint8Array(from.subarray(at, at + length));
    const chunk = { offset: this.offset, data };
    this.offset += length;
    return chunk;
  }

  /** Moves the pending bytes (fewer than `max`) to the front of the buffer. */
  private compact(): void {
    this.buf.copyWithin(0, this.head, this.tail);
    this.tail -= this.head;
    this.head = 0;
  }
}

/**
 * Chunks an async stream of byte pieces. Yields each chunk's bytes (a fresh Uint8Array the
 * consumer may keep) with its stream offset. The cut points equal `cutPoints` over the
 * concatenated input, however it is split. Memory: a `2 * max` buffer plus the current
 * piece. Checks `signal` before each piece and each chunk.
 *
 * @throws AbortedError when `signal` fires; UsageError for a piece that is not a Uint8Array.
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  params: ChunkerParams | FastCDC,
  signal?: AbortSignal,
): AsyncGenerator<StreamChunk> {
  const chunker = new StreamChunker(params);
  throwIfAborted(signal);
  for await (const piece of source) {
    throwIfAborted(signal);
    for (const chunk of chunker.push(piece)) {
      yield chunk;
      throwIfAborted(signal);
    }
  }
  throwIfAborted(signal);
  yield* chunker.finish();
}
