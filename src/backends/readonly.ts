/** A wrapper that refuses writes, for repositories opened read-only (e.g. `check`, `restore`). */
import { UsageError } from '../core/errors.js';
import type { BackendCapabilities, CallOptions, PutOptions } from './backend.js';
import { ForwardingBackend } from './forwarding.js';

/** Passes reads through and rejects `put` and `delete` with UsageError. */
export class ReadOnlyBackend extends ForwardingBackend {
  override get capabilities(): BackendCapabilities {
    return { ...this.inner.capabilities, writable: false };
  }

  override async put(key: string, _data: Uint8Array, _options?: PutOptions): Promise<boolean> {
    throw new UsageError(`cannot put ${key}: ${this.location} is opened read-only`);
  }

  override async delete(key: string, _options?: CallOptions): Promise<void> {
    throw new UsageError(`cannot delete ${key}: ${this.location} is opened read-only`);
  }
}
