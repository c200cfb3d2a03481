/**
 * `-o, --option KEY=VALUE`: settings of a kind of backend that a location cannot say,
 * as restic's `-o` (`-o s3.storage-class=STANDARD_IA`). Each applies to every
 * repository of that kind the command opens (both of `sync`'s when both are S3) and
 * is ignored for other kinds.
 */

import type { OpenBackendOptions } from '../backends/open.js';
import type { S3BackendOverrides } from '../backends/s3.js';
import { checkStorageClass } from '../backends/s3-storage-class.js';
import { UsageError } from '../core/errors.js';

/** How each option is read into the S3 backend's settings. */
const S3_OPTIONS: Record<string, (value: string, option: string) => S3BackendOverrides> = {
  'storage-class': (value) => ({ storageClass: checkStorageClass(value) }),
  'atomic-create': (value, option) => ({ atomicCreate: parseBoolean(value, option) }),
  'path-style': (value, option) => ({ forcePathStyle: parseBoolean(value, option) }),
  region: (value, option) => {
    if (!/^[a-z0-9-]+$/.test(value)) throw new UsageError(`${option}: not a region name`);
    return { region: value };
  },
  connections: (value, option) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > 1024) {
      throw new UsageError(`${option}: expected a whole number from 1 to 1024`);
    }
    return { maxSockets: n };
  },
};

/** The known option names, for messages and the docs' list. */
export const BACKEND_OPTION_NAMES = Object.keys(S3_OPTIONS).map((k) => `s3.${k}`);

/**
 * Reads the `-o` values (in order; a later one wins) into backend settings. An unknown
 * name, a value missing or of the wrong form (a storage class included) is a UsageError
 * naming the option.
 */
export function parseBackendOptions(values: readonly string[]): OpenBackendOptions {
  let s3: S3BackendOverrides | undefined;
  for (const raw of values) {
    const eq = raw.indexOf('=');
    const name = eq < 0 ? raw : raw.slice(0, eq);
    const option = `-o ${name}`;
    const key = name.startsWith('s3.') ? name.slice(3) : '';
    const read = Object.hasOwn(S3_OPTIONS, key) ? S3_OPTIONS[key] : undefined;
    if (!read) {
      throw new UsageError(
        `-o ${JSON.stringify(raw)}: unknown option ${JSON.stringify(name)}; known: ${BACKEND_OPTION_NAMES.join(', ')}`,
      );
    }
    const value = eq < 0 ? '' : raw.slice(eq + 1);
    if (value === '') throw new UsageError(`${option}: expected ${name}=VALUE`);
    s3 = { ...s3, ...read(value, option) };
  }
  return s3 ? { s3 } : {};
}

function parseBoolean(value: string, option: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`${option}: expected true or false, not ${JSON.stringify(value)}`);
}
