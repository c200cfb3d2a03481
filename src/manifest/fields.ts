/**
 * Checked reading of decoded msgpack maps. Everything decoded from a repository is
 * untrusted: each field is checked for presence, type and range, unknown fields are
 * rejected (a newer format bumps the version instead), and every failure is a
 * FormatError naming the object and the field.
 */
import { FormatError } from '../core/errors.js';
import { ID_BYTES, idFromBytes, type ObjectId } from '../core/ids.js';

/** True for a plain decoded map (not an array, buffer or extension value). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Names the object a failure is in: a string, or a function that builds it only when
 * something fails (a tree holds thousands of entries, each with a name of its own).
 */
export type FieldSource = string | (() => string);

/** Reads fields of one decoded map, checking each. */
export class FieldReader {
  private readonly obj: Record<string, unknown>;

  constructor(
    value: unknown,
    private readonly source: FieldSource,
    allowed: ReadonlySet<string>,
  ) {
    if (!isPlainObject(value)) throw new FormatError(this.where(), 'expected a map');
    for (const key of Object.keys(value)) {
      if (!allowed.has(key))
        throw new FormatError(this.where(), `unknown field ${JSON.stringify(key)}`);
    }
    this.obj = value;
  }

  /** The object a failure is in. */
  where(): string {
    return typeof this.source === 'string' ? this.source : this.source();
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  fail(key: string, problem: string): never {
    throw new FormatError(this.where(), `field ${key}: ${problem}`);
  }

  raw(key: string): unknown {
    const v = this.obj[key];
    if (v === undefined) this.fail(key, 'missing');
    return v;
  }

  /** An integer in [min, max]. msgpackr writes integers above 2^32 as exact float64s. */
  int(key: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(key, 'not an integer');
    if (v < min || v > max) this.fail(key, `${v} is out of range ${min}..${max}`);
    return v;
  }

  uint(key: string, max = Number.MAX_SAFE_INTEGER): number {
    return this.int(key, 0, max);
  }

  str(key: string, maxLength = 1 << 20): string {
    const v = this.raw(key);
    if (typeof v !== 'string') this.fail(key, 'not a string');
    if (v.length > maxLength) this.fail(key, `longer than ${maxLength}`);
    return v;
  }

  bin(key: string, maxLength = Number.MAX_SAFE_INTEGER): Uint8Array {
    const v = this.raw(key);
    if (!(v instanceof Uint8Array)) this.fail(key, 'not binary');
    if (v.length > maxLength) this.fail(key, `longer than ${maxLength} bytes`);
    return v;
  }

  id(key: string): ObjectId {
    const b = this.bin(key, ID_BYTES);
    if (b.length !== ID_BYTES) this.fail(key, `an id must be ${ID_BYTES} bytes`);
    return idFromBytes(b);
  }

  array(key: string, maxLength = Number.MAX_SAFE_INTEGER): unknown[] {
    const v = this.raw(key);
    if (!Array.isArray(v)) this.fail(key, 'not an array');
    if (v.length > maxLength) this.fail(key, `more than ${maxLength} items`);
    return v;
  }

  strings(key: string, maxItems = 10_000, maxLength = 4096): string[] {
    return this.array(key, maxItems).map((v, i) => {
      if (typeof v !== 'string' || v.length > maxLength) this.fail(`${key}[${i}]`, 'not a string');
      return v;
    });
  }
}
