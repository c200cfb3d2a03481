/**
 * The base of the wrapper backends: forwards every call to an inner backend unchanged,
 * so a wrapper overrides only the verbs it changes.
 */
import type {
  Backend,
  BackendCapabilities,
  CallOptions,
  GetOptions,
  ObjectInfo,
  PutOptions,
} from './backend.js';

/** A Backend that passes every call through to `inner`. Subclasses override verbs. */
export class ForwardingBackend implements Backend {
  /** The wrapped backend. */
  readonly inner: Backend;

  constructor(inner: Backend) {
    this.inner = inner;
  }

  get location(): string {
    return this.inner.location;
  }

  get capabilities(): BackendCapabilities {
    return this.inner.capabilities;
  }

  get(key: string, options?: GetOptions): Promise<Uint8Array> {
    return this.inner.get(key, options);
  }

  put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    return this.inner.put(key, data, options);
  }

  stat(key: string, options?: CallOptions): Promise<ObjectInfo> {
    return this.inner.stat(key, options);
  }

  list(prefix: string, options?: CallOptions): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix, options);
  }

  delete(key: string, options?: CallOptions): Promise<void> {
    return this.inner.delete(key, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
