/**
 * An in-process backend over a Map: for tests, and for `memory:` locations. Data is
 * copied on the way in and out, so callers can never mutate a stored object.
 */
import { throwIfAborted } from '../core/abort.js';
import { NotFoundError } from '../core/errors.js';
import type {
  Backend,
  BackendCapabilities,
  CallOptions,
  GetOptions,
  ObjectInfo,
  PutOptions,
} from './backend.js';
import { checkKey, checkPrefix } from './keys.js';
import { resolveRange } from './range.js';

/** A Backend that keeps objects in memory. Every verb is atomic. */
export class MemoryBackend implements Backend {
  readonly location: string;
  readonly capabilities: BackendCapabilities = {
    writable: true,
    listable: true,
    atomicCreate: true,
  };
  private readonly objects = new Map<string, Uint8Array>();

  /** @param location how messages name this store (default `memory:`). */
  constructor(location = 'memory:') {
    this.location = location;
  }

  /** Number of stored objects. */
  get size(): number {
    return this.objects.size;
  }

  /** Removes every object. */
  clear(): void {
    this.objects.clear();
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    checkKey(key);
    throwIfAborted(options?.signal);
    const data = this.objects.get(key);
    if (data === undefined) throw this.notFound(key);
    const { start, end } = resolveRange(key, data.length, options, this.location);
    return data.slice(start, end);
  }

  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    checkKey(key);
    throwIfAborted(options?.signal);
    if (options?.ifNotExists && this.objects.has(key)) return false;
    this.objects.set(key, Uint8Array.from(data));
    return true;
  }

  async stat(key: string, options?: CallOptions): Promise<ObjectInfo> {
    checkKey(key);
    throwIfAborted(options?.signal);
    const data = this.objects.get(key);
    if (data === undefined) throw this.notFound(key);
    return { key, size: data.length };
  }

  async *list(prefix: string, options?: CallOptions): AsyncGenerator<ObjectInfo> {
    checkPrefix(prefix);
    throwIfAborted(options?.signal);
    // Snapshot the keys so puts and deletes during iteration cannot disturb it.
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix));
    for (const key of keys) {
      throwIfAborted(options?.signal);
      const data = this.objects.get(key);
      if (data !== undefined) yield { key, size: data.length };
    }
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    checkKey(key);
    throwIfAborted(options?.signal);
    this.objects.delete(key);
  }

  async close(): Promise<void> {
    // Nothing to release; the data stays so a named store can be opened again.
  }

  private notFound(key: string): NotFoundError {
    return new NotFoundError(key, `not found: ${key} in ${this.location}`);
  }
}
