/**
 * A bounded least-recently-used map. Caches in front of the blob inventory and of the
 * blob store use it so that memory is capped by a constant, never by repository size.
 */

/** A Map that keeps at most `capacity` entries, dropping the least recently used. */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LRU capacity must be a positive integer, got ${capacity}`);
    }
  }

  /** Entries currently held (at most `capacity`). */
  get size(): number {
    return this.map.size;
  }

  /** The value for `key` (marking it most recently used), or undefined. */
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    // Re-inserting moves the key to the end of the Map's insertion order.
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  /** True when `key` is held (does not change its recency). */
  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Stores `value` for `key` as the most recently used entry, evicting the oldest if full. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }

  /** Removes `key`. */
  delete(key: K): void {
    this.map.delete(key);
  }

  /** Removes every entry. */
  clear(): void {
    this.map.clear();
  }
}
