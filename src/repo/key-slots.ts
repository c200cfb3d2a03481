/**
 * Key slots: the master keys of an encrypted repository, each copy wrapped under a key
 * derived from one password, stored as `keys/<slot id>` (JSON):
 *
 *   {"cairn": "key", "version": 1, "created": ISO time, "hostname": "...",
 *    "kdf": {"name": "scrypt", "logN": 15, "r": 8, "p": 1, "salt": base64 (16 bytes)},
 *    "cipher": "aes-256-gcm", "data": base64 (nonce || ciphertext || tag)}
 *
 * The AEAD binds each slot to its repository (the associated data holds the repository
 * id). Opening tries every slot with the password; a password no slot accepts is an
 * AuthError and nothing is written. `index/keys` lists the slot ids for readers that
 * cannot list (a static web server); writers rewrite it after every change.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { hostname } from 'node:os';
import type { Backend } from '../backends/backend.js';
import {
  AuthError,
  FormatError,
  hasCode,
  LockedError,
  NotFoundError,
  UsageError,
} from '../core/errors.js';
import { isObjectId, randomId } from '../core/ids.js';
import {
  aeadOpen,
  aeadSeal,
  decodeMasterKeys,
  encodeMasterKeys,
  type MasterKeys,
} from './crypto.js';
import { blobIdOfKey, idOfKey, snapshotKey } from './layout.js';

/** Folder of key slots. */
export const KEYS_PREFIX = 'keys/';
/** The list of slot ids, for backends that cannot list. */
export const KEYS_INDEX_KEY = 'index/keys';

/** scrypt parameters of one slot. */
export interface KdfParams {
  name: 'scrypt';
  /** log2 of the scrypt cost N. */
  logN: number;
  r: number;
  p: number;
  salt: Buffer;
}

/** What `key list` shows about a slot. */
export interface KeySlotInfo {
  id: string;
  created: string;
  hostname: string;
  kdf: KdfParams;
}

/** Default scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s per attempt). */
export const DEFAULT_LOG_N = 15;
const MIN_LOG_N = 10;
const MAX_LOG_N = 20;
/**
 * The most scrypt work (N·r·p) a slot may ask for: what cairn itself sets at most
 * (N = 2^20, r = 8, p = 1; 1 GiB of memory). A slot asking for more is refused as
 * damaged: else one written by anyone with access to `keys/` could make every open try
 * a derivation of many GiB or minutes, before the slots after it.
 */
const MAX_SCRYPT_WORK = 2 ** 23;

/** Options for a new slot. */
export interface NewSlotOptions {
  /** log2 of the scrypt cost (default 15; tests use less). */
  logN?: number;
}

/** The object of key slot `slotId`. */
export function slotKey(slotId: string): string {
  return `${KEYS_PREFIX}${slotId}`;
}

function aadFor(repoId: string): Uint8Array {
  return Buffer.from(`cairn key slot for repository ${repoId}`, 'utf8');
}

/** Derives the 256-bit wrapping key from a password. */
export function deriveKey(password: string, kdf: KdfParams): Promise<Buffer> {
  const N = 2 ** kdf.logN;
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFC'),
      kdf.salt,
      32,
      { N, r: kdf.r, p: kdf.p, maxmem: 128 * N * kdf.r * kdf.p + 16 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** Wraps `keys` under `password` in a new slot of `backend`; returns the slot id. */
export async function addKeySlot(
  backend: Backend,
  repoId: string,
  keys: MasterKeys,
  password: string,
  options: NewSlotOptions = {},
): Promise<string> {
  if (password.length === 0) throw new UsageError('the password must not be empty');
  const logN = options.logN ?? DEFAULT_LOG_N;
  if (!Number.isInteger(logN) || logN < MIN_LOG_N || logN > MAX_LOG_N) {
    throw new UsageError(`scrypt cost log2(N) must be from ${MIN_LOG_N} to ${MAX_LOG_N}`);
  }
  const kdf: KdfParams = { name: 'scrypt', logN, r: 8, p: 1, salt: randomBytes(16) };
  const wrapping = await deriveKey(password, kdf);
  const data = aeadSeal(wrapping, encodeMasterKeys(keys), aadFor(repoId));
  const id = randomId();
  const json = {
    cairn: 'key',
    version: 1,
    created: new Date().toISOString(),
    hostname: hostname(),
    kdf: { ...kdf, salt: kdf.salt.toString('base64') },
    cipher: 'aes-256-gcm',
    data: data.toString('base64'),
  };
  await backend.put(slotKey(id), Buffer.from(`${JSON.stringify(json, null, 2)}\n`), {
    ifNotExists: true,
  });
  await writeKeysIndex(backend);
  return id;
}

/** Removes slot `slotId`; refuses to remove the last one (the data would be lost). */
export async function removeKeySlot(backend: Backend, slotId: string): Promise<void> {
  const ids = await slotIds(backend);
  if (!ids.includes(slotId)) throw new NotFoundError(slotId, `no key slot ${slotId}`);
  if (ids.length === 1) {
    throw new UsageError(
      `key slot ${slotId.slice(0, 8)} is the last one: removing it would make the repository unreadable`,
    );
  }
  const bytes = await backend.get(slotKey(slotId));
  await discardKeySlot(backend, slotId);
  // A process that took no lock (an older cairn) may have removed the others meanwhile:
  // never leave none.
  if ((await slotIds(backend)).length === 0) {
    await backend.put(slotKey(slotId), bytes);
    await writeKeysIndex(backend);
    throw new LockedError(
      `key slot ${slotId.slice(0, 8)} was put back: the other slots were removed meanwhile, ` +
        'and removing it too would have made the repository unreadable',
    );
  }
}

/** Deletes slot `slotId` and rewrites the index, with no last-slot check (init's cleanup). */
export async function discardKeySlot(backend: Backend, slotId: string): Promise<void> {
  await backend.delete(slotKey(slotId));
  await writeKeysIndex(backend);
}

/**
 * Slots younger than this are never removed as leftovers: they may be another init's,
 * running now, between its slot and its config.
 */
export const LEFTOVER_SLOT_AGE_MS = 10 * 60 * 1000;

/**
 * Removes the key slots older than LEFTOVER_SLOT_AGE_MS (by their `created` time; a
 * slot without a readable one counts as old). For `init` only, where there is no
 * config: slots there are leftovers of an init that failed before writing its config.
 * They open nothing (each is bound to its own repository id) but would be listed and
 * tried at every open. A younger one is left alone: if it is a leftover too, it only
 * costs one failed attempt per open until `key remove` takes it away. Nothing is
 * removed where the repository holds anything else (snapshots, data or trees): that is
 * a repository whose config is missing, and its slots are the only wrapped copies of
 * its master keys; nor where the backend cannot be listed to tell.
 */
export async function removeLeftoverKeySlots(backend: Backend, now = Date.now()): Promise<void> {
  if (!backend.capabilities.listable) return;
  // The usual case first: nothing written, nothing to remove, and nothing more to list.
  const ids = await slotIds(backend);
  if (ids.length === 0 || (await holdsContent(backend))) return;
  let removed = 0;
  for (const id of ids) {
    const created = await readSlot(backend, id).then(
      (s) => Date.parse(s.info.created) || 0, // no readable time: old
      (err) => {
        if (hasCode(err, 'not-found')) return undefined; // gone meanwhile
        if (hasCode(err, 'format')) return 0; // unreadable: old
        throw err;
      },
    );
    if (created === undefined || now - created < LEFTOVER_SLOT_AGE_MS) continue;
    await backend.delete(slotKey(id));
    removed++;
  }
  if (removed > 0) await writeKeysIndex(backend);
}

/** A slot whose object cannot be read as a key slot: listed, so that it can be removed. */
export interface DamagedKeySlot {
  id: string;
  /** What is wrong with it (the FormatError's message, naming the object). */
  damaged: string;
}

/** True for a slot `listKeySlots` could not read. */
export function isDamagedSlot(slot: KeySlotInfo | DamagedKeySlot): slot is DamagedKeySlot {
  return 'damaged' in slot;
}

/** The slots of a repository, oldest first, then the damaged ones. */
export async function listKeySlots(backend: Backend): Promise<Array<KeySlotInfo | DamagedKeySlot>> {
  const slots = await Promise.all(
    (await slotIds(backend)).map((id) =>
      readSlot(backend, id).then(
        (s): KeySlotInfo | DamagedKeySlot | undefined => s.info,
        (err) => {
          if (hasCode(err, 'not-found')) return undefined; // removed since the listing
          if (hasCode(err, 'format')) return { id, damaged: (err as Error).message };
          throw err;
        },
      ),
    ),
  ).then((found) => found.filter((s) => s !== undefined));
  const readable = slots.filter((s): s is KeySlotInfo => !isDamagedSlot(s));
  const damaged = slots.filter(isDamagedSlot);
  readable.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
  damaged.sort((a, b) => a.id.localeCompare(b.id));
  return [...readable, ...damaged];
}

/**
 * True when a listable repository holds at least one key slot (one short listing).
 * An unencrypted repository never has one: its config saying otherwise is a downgrade.
 */
export async function holdsKeySlots(backend: Backend, signal?: AbortSignal): Promise<boolean> {
  if (!backend.capabilities.listable) return false;
  for await (const info of backend.list(KEYS_PREFIX, { signal })) {
    if (isObjectId(info.key.slice(KEYS_PREFIX.length))) return true;
  }
  return false;
}

/** Resolves a slot id or unique prefix (at least 4 hex digits). */
export async function resolveKeySlot(backend: Backend, prefix: string): Promise<string> {
  if (!/^[0-9a-f]{4,64}$/.test(prefix)) {
    throw new UsageError(`bad key slot id ${JSON.stringify(prefix)}: give at least 4 hex digits`);
  }
  const matches = (await slotIds(backend)).filter((id) => id.startsWith(prefix));
  if (matches.length === 0) throw new NotFoundError(prefix, `no key slot id starts with ${prefix}`);
  if (matches.length > 1) throw new UsageError(`key slot id prefix ${prefix} is ambiguous`);
  return matches[0]!;
}

/**
 * Opens the master keys with `password`, trying every slot. A slot that cannot be read
 * (damaged, or written by something else) is passed over, so one bad object cannot lock
 * out the passwords of the others; `damaged` names every slot that cannot be read, also
 * those after the one that opened (all slots are read, at once, before any is tried),
 * so that whoever opens the repository can be told. Throws AuthError when no slot
 * accepts the password, FormatError when no slot could be read at all.
 */
export async function unlockKeys(
  backend: Backend,
  repoId: string,
  password: string,
  signal?: AbortSignal,
): Promise<{ keys: MasterKeys; slotId: string; damaged: DamagedKeySlot[] }> {
  const ids = await slotIds(backend, signal);
  if (ids.length === 0) {
    throw new FormatError(KEYS_PREFIX, 'the repository is encrypted but has no key slot');
  }
  const reads = await Promise.allSettled(ids.map((id) => readSlot(backend, id, signal)));
  for (const r of reads)
    if (r.status === 'rejected' && hasCode(r.reason, 'aborted')) throw r.reason;
  const damaged: DamagedKeySlot[] = [];
  const skipped: string[] = [];
  let firstProblem: unknown;
  // A slot the storage would not give (a 403 on one object, say) is not damage: it
  // stops the open only if no other slot opens, since the password may be in it.
  let storageFailure: unknown;
  const skip = (id: string, err: unknown, problem = (err as Error).message) => {
    skipped.push(id);
    firstProblem ??= err;
    if (hasCode(err, 'backend')) storageFailure ??= err;
    // Gone since the listing, or not given by the storage, is not damage.
    else if (!hasCode(err, 'not-found')) damaged.push({ id, damaged: problem });
  };
  let opened: { keys: MasterKeys; slotId: string } | undefined;
  for (const [i, id] of ids.entries()) {
    const read = reads[i]!;
    if (read.status === 'rejected') {
      skip(id, read.reason);
      continue;
    }
    if (opened) continue;
    let wrapping: Buffer;
    try {
      wrapping = await deriveKey(password, read.value.info.kdf);
    } catch (err) {
      // Parameters scrypt refuses: the next slot.
      if (hasCode(err, 'aborted')) throw err;
      skip(id, err, `${slotKey(id)}: scrypt refuses its parameters (${(err as Error).message})`);
      continue;
    }
    const plain = aeadOpen(wrapping, read.value.data, aadFor(repoId));
    if (plain) opened = { keys: decodeMasterKeys(plain, slotKey(id)), slotId: id };
  }
  if (opened) {
    damaged.sort((a, b) => a.id.localeCompare(b.id));
    return { ...opened, damaged };
  }
  if (storageFailure) throw storageFailure;
  if (skipped.length === ids.length) throw firstProblem;
  const note =
    skipped.length > 0
      ? ` (${skipped.length} damaged slot(s) could not be tried: ${skipped.map(slotKey).join(', ')})`
      : '';
  throw new AuthError(`wrong password: no key slot opens with it${note}`);
}

/** Slot ids: from a listing where possible, else from `index/keys`. */
async function slotIds(backend: Backend, signal?: AbortSignal): Promise<string[]> {
  if (backend.capabilities.listable) {
    const ids: string[] = [];
    for await (const info of backend.list(KEYS_PREFIX, { signal })) {
      const id = info.key.slice(KEYS_PREFIX.length);
      if (isObjectId(id)) ids.push(id);
    }
    return ids;
  }
  let bytes: Uint8Array;
  try {
    bytes = await backend.get(KEYS_INDEX_KEY, { signal });
  } catch (err) {
    if (hasCode(err, 'not-found')) {
      throw new NotFoundError(
        KEYS_INDEX_KEY,
        `${backend.location} cannot be listed and has no key index (${KEYS_INDEX_KEY})`,
      );
    }
    throw err;
  }
  let ids: unknown;
  try {
    ids = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new FormatError(KEYS_INDEX_KEY, 'not valid JSON', { cause: err });
  }
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && isObjectId(id))) {
    throw new FormatError(KEYS_INDEX_KEY, 'not a list of key slot ids');
  }
  return ids as string[];
}

async function writeKeysIndex(backend: Backend): Promise<void> {
  if (!backend.capabilities.listable) return;
  const ids = (await slotIds(backend)).sort();
  await backend.put(KEYS_INDEX_KEY, Buffer.from(`${JSON.stringify(ids)}\n`));
}

async function readSlot(
  backend: Backend,
  id: string,
  signal?: AbortSignal,
): Promise<{ info: KeySlotInfo; data: Buffer }> {
  const source = slotKey(id);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(Buffer.from(await backend.get(source, { signal })).toString('utf8'));
  } catch (err) {
    if (hasCode(err, 'not-found') || hasCode(err, 'backend') || hasCode(err, 'aborted')) throw err;
    throw new FormatError(source, 'the key slot is not valid JSON', { cause: err });
  }
  const k = o?.kdf as Record<string, unknown> | undefined;
  const int = (v: unknown, lo: number, hi: number) =>
    typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  if (
    o?.cairn !== 'key' ||
    o.version !== 1 ||
    o.cipher !== 'aes-256-gcm' ||
    typeof o.data !== 'string' ||
    typeof k !== 'object' ||
    k === null ||
    k.name !== 'scrypt' ||
    !int(k.logN, MIN_LOG_N, MAX_LOG_N) ||
    !int(k.r, 1, 32) ||
    !int(k.p, 1, 16) ||
    typeof k.salt !== 'string'
  ) {
    throw new FormatError(source, 'not a version 1 scrypt/aes-256-gcm key slot');
  }
  if (2 ** (k.logN as number) * (k.r as number) * (k.p as number) > MAX_SCRYPT_WORK) {
    throw new FormatError(source, 'asks for more scrypt work than cairn ever sets (N·r·p > 2^23)');
  }
  return {
    info: {
      id,
      created: typeof o.created === 'string' ? o.created : '',
      hostname: typeof o.hostname === 'string' ? o.hostname : '',
      kdf: {
        name: 'scrypt',
        logN: k.logN as number,
        r: k.r as number,
        p: k.p as number,
        salt: Buffer.from(k.salt, 'base64'),
      },
    },
    data: Buffer.from(o.data, 'base64'),
  };
}

/** True when `backend` holds snapshots, data or trees (a repository, config or not). */
export async function holdsContent(backend: Backend): Promise<boolean> {
  // Only objects named as a repository names them: an unrelated `data/` folder that
  // happens to be where a repository is made is not one.
  const named = {
    'snapshots/': (key: string) => key === snapshotKey(idOfKey(key) ?? ''),
    'data/': (key: string) => blobIdOfKey('data', key) !== undefined,
    'tree/': (key: string) => blobIdOfKey('tree', key) !== undefined,
  };
  for (const [prefix, isOurs] of Object.entries(named)) {
    for await (const info of backend.list(prefix)) if (isOurs(info.key)) return true;
  }
  return false;
}
