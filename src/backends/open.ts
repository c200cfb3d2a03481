/**
 * Opens a backend from a location string: a path or `file:` URL (local directory),
 * `memory:<name>`, `s3:...`, or `http(s)://...`. S3 and HTTP modules load on demand.
 */
import { fileURLToPath } from 'node:url';
import { UsageError } from '../core/errors.js';
import type { Backend } from './backend.js';
import { openLazyBackend } from './lazy.js';
import { LocalBackend } from './local.js';
import { MemoryBackend } from './memory.js';
import type { S3BackendOverrides } from './s3.js';

/** Named memory stores of this process, so `memory:foo` opened twice is one store. */
const memoryStores = new Map<string, MemoryBackend>();

/** A URL scheme, at least two characters so that `C:\x` stays a (Windows) path. */
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]+):/;

/** Settings for the backends a location may name, which the location cannot say. */
export interface OpenBackendOptions {
  /** For `s3:` locations (the command line's `-o s3.KEY=VALUE`). */
  s3?: S3BackendOverrides;
}

/**
 * Opens the backend for `location`:
 * - a plain path or a `file:` URL: LocalBackend (the directory is created on first write);
 * - `memory:<name>`: the process-wide MemoryBackend of that name; bare `memory:` is a
 *   fresh private store each time;
 * - `s3:...`: S3Backend.fromUrl with `options.s3`, loaded from ./s3.js on demand;
 * - `http://...`, `https://...`: HttpBackend.fromUrl, loaded from ./http.js on demand.
 * Any other scheme, or an empty location, is a UsageError.
 */
export async function openBackend(
  location: string,
  options: OpenBackendOptions = {},
): Promise<Backend> {
  if (location === '') throw new UsageError('no repository location given');
  const scheme = SCHEME.exec(location)?.[1]?.toLowerCase();
  switch (scheme) {
    case undefined:
      return new LocalBackend(location);
    case 'file':
      return new LocalBackend(filePath(location));
    case 'memory':
      return memoryStore(location.slice('memory:'.length));
    case 's3':
      return openLazyBackend(
        { name: './s3.js', load: () => import('./s3.js') },
        'S3Backend',
        location,
        options.s3,
      );
    case 'http':
    case 'https':
      return openLazyBackend(
        { name: './http.js', load: () => import('./http.js') },
        'HttpBackend',
        location,
      );
    default:
      throw new UsageError(
        `unknown storage scheme "${scheme}:" in ${location}; expected a path, file:, memory:, ` +
          's3:, http: or https: (write ./ before a local path that contains a colon)',
      );
  }
}

/** Drops the named memory store (all of them when `name` is omitted), for test isolation. */
export function forgetMemoryBackends(name?: string): void {
  if (name === undefined) memoryStores.clear();
  else memoryStores.delete(name);
}

function memoryStore(name: string): MemoryBackend {
  if (name === '') return new MemoryBackend('memory:');
  let store = memoryStores.get(name);
  if (!store) {
    store = new MemoryBackend(`memory:${name}`);
    memoryStores.set(name, store);
  }
  return store;
}

function filePath(location: string): string {
  try {
    return fileURLToPath(location);
  } catch (err) {
    throw new UsageError(`not a valid file: URL: ${location}`, { cause: err });
  }
}
