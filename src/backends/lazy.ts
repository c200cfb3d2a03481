/**
 * Loads a backend module on first use (S3, HTTP), so that opening a local repository
 * never pays for the AWS SDK, and a broken optional module fails with a clear message.
 */
import { describeError, UsageError } from '../core/errors.js';
import type { Backend } from './backend.js';

/** What a lazily loaded backend class must offer: a factory from a location URL. */
export interface BackendFactory {
  fromUrl(location: string, options?: unknown): Backend | Promise<Backend>;
}

function isFactory(value: unknown): value is BackendFactory {
  return (
    (typeof value === 'function' || (typeof value === 'object' && value !== null)) &&
    typeof (value as { fromUrl?: unknown }).fromUrl === 'function'
  );
}

/** A module to load on first use: what to call it in messages, and how to import it. */
export interface LazyModule {
  name: string;
  load: () => Promise<unknown>;
}

/**
 * Loads `module`, takes its export `exportName` and opens `location` with its `fromUrl`
 * and `options`.
 * Failing to load the module or to find the factory is a UsageError naming the
 * location; errors of `fromUrl` itself are passed through unchanged.
 *
 * `load` is the caller's `() => import('./s3.js')`: a literal specifier, so a bundler
 * (scripts/bundle-cli.mjs) sees the module and gives it a chunk of its own, loaded only
 * when called.
 */
export async function openLazyBackend(
  module: LazyModule,
  exportName: string,
  location: string,
  options?: unknown,
): Promise<Backend> {
  let mod: Record<string, unknown>;
  try {
    mod = (await module.load()) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(
      `cannot open ${location}: the backend module ${module.name} failed to load: ${describeError(err)}`,
      { cause: err },
    );
  }
  const factory = mod[exportName];
  if (!isFactory(factory)) {
    throw new UsageError(
      `cannot open ${location}: ${module.name} does not export ${exportName} with a fromUrl method`,
    );
  }
  return factory.fromUrl(location, options);
}
