/** A wrapper that counts calls and bytes, for tests and for sync/backup reports. */
import type { CallOptions, GetOptions, ObjectInfo, PutOptions } from './backend.js';
import { ForwardingBackend } from './forwarding.js';

/** Calls made per verb (failed ones included) and bytes moved by successful calls. */
export interface BackendCounts {
  get: number;
  put: number;
  stat: number;
  list: number;
  delete: number;
  /** Bytes received from the backend by `get`. */
  bytesIn: number;
  /** Bytes stored into the backend by `put`s that wrote (not those `ifNotExists` skipped). */
  bytesOut: number;
}

/** A BackendCounts of zeros. */
export function zeroCounts(): BackendCounts {
  return { get: 0, put: 0, stat: 0, list: 0, delete: 0, bytesIn: 0, bytesOut: 0 };
}

/** Counts every call to the inner backend in `counts`. */
export class CountingBackend extends ForwardingBackend {
  /** Running totals; read them at any time, or `reset()` them. */
  counts: BackendCounts = zeroCounts();

  /** Sets every count back to zero. */
  reset(): void {
    this.counts = zeroCounts();
  }

  override async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    this.counts.get++;
    const data = await this.inner.get(key, options);
    this.counts.bytesIn += data.length;
    return data;
  }

  override async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    this.counts.put++;
    const written = await this.inner.put(key, data, options);
    if (written) this.counts.bytesOut += data.length;
    return written;
  }

  override stat(key: string, options?: CallOptions): Promise<ObjectInfo> {
    this.counts.stat++;
    return this.inner.stat(key, options);
  }

  override list(prefix: string, options?: CallOptions): AsyncIterable<ObjectInfo> {
    this.counts.list++;
    return this.inner.list(prefix, options);
  }

  override delete(key: string, options?: CallOptions): Promise<void> {
    this.counts.delete++;
    return this.inner.delete(key, options);
  }
}
