/**
 * A repository: a backend plus its validated config, with the stores built on it.
 * `initRepository` writes the key slot, then the config (refusing to overwrite one):
 * the config is what makes a repository exist, so it comes last. `openRepository` reads
 * it and says clearly when there is no repository, or a foreign one, there.
 */
import type { Backend } from '../backends/backend.js';
import { ForwardingBackend } from '../backends/forwarding.js';
import { LocalBackend } from '../backends/local.js';
import { MemoryBackend } from '../backends/memory.js';
import { openBackend } from '../backends/open.js';
import { chunkerParams } from '../chunker/index.js';
import { ExistsError, FormatError, hasCode, NotFoundError, UsageError } from '../core/errors.js';
import { BlobStore } from './blob-store.js';
import { repoCacheDir } from './cache-dir.js';
import { ObjectCodec } from './codec.js';
import {
  type ConfigOptions,
  decodeConfig,
  encodeConfig,
  newConfig,
  type RepoConfig,
} from './config.js';
import { derivedMasterKeys, type MasterKeys, newMasterKeys } from './crypto.js';
import { BlobInventory } from './inventory.js';
import {
  addKeySlot,
  type DamagedKeySlot,
  discardKeySlot,
  holdsContent,
  holdsKeySlots,
  KEYS_PREFIX,
  removeLeftoverKeySlots,
  slotKey,
  unlockKeys,
} from './key-slots.js';
import type { KnownRepositories } from './known-repos.js';
import { CONFIG_KEY } from './layout.js';
import { readPruneEpoch } from './prune-state.js';
import { SnapshotStore } from './snapshots.js';
import { DirectoryWriter, TreeReader } from './tree-store.js';

/**
 * Whether to keep a blob inventory (inventory.ts): `auto` (the default) keeps one for
 * remote backends that can list (S3), where every existence check is a round trip, and
 * none for local directories and memory stores, where a check is cheap.
 */
export type InventoryMode = 'auto' | 'on' | 'off';

/** Options for opening a repository. */
export interface OpenOptions {
  /** Count writes but do not perform them (backup --dry-run). */
  dryRun?: boolean;
  /** Blob inventory use (default `auto`). */
  inventory?: InventoryMode;
  /** Directory of local caches (default: `repoCacheDir(config.id)`). */
  cacheDir?: string;
  /** Age after which the inventory is refilled by a listing (default 7 days). */
  inventoryMaxAgeMs?: number;
  /** The repository's prune epoch (prune-state.ts); read from the backend when opening. */
  epoch?: string;
  /**
   * The password of an encrypted repository, or a function asked for it only when the
   * repository turns out to be encrypted (so unencrypted repositories never prompt).
   */
  password?: string | (() => Promise<string>);
  /** The master keys, when already unlocked (the constructor needs them if encrypted). */
  keys?: MasterKeys;
  /** The key slot the password opened (for `key list`). */
  keySlot?: string;
  /**
   * Called once per damaged key slot found while unlocking an encrypted repository (a
   * slot that cannot be read: it opens nothing, but the repository opens with another).
   */
  onNotice?: (notice: RepoNotice) => void;
  /** Stops the reads of opening (config, prune epoch, key slots). */
  signal?: AbortSignal | undefined;
  /**
   * This machine's record of encrypted repositories (known-repos.ts): a repository it
   * lists is refused when its config says it is not encrypted, and an encrypted one
   * opened with its password is added to it. Not kept unless given (the CLI gives it).
   */
  known?: KnownRepositories;
  /**
   * Why the caller expects the repository to be encrypted, e.g. "a password was given
   * for it (CAIRN_PASSWORD)": one whose config says it is not is then refused with
   * that reason (a FormatError naming the config).
   */
  expectEncrypted?: string;
}

/** Something worth telling whoever opens a repository; nothing failed. */
export interface RepoNotice {
  type: 'notice';
  code: 'key-slot-damaged';
  message: string;
  /** The repository's location. */
  repository: string;
  /** The damaged slot's id, and its object. */
  slot: string;
  path: string;
}

/** An open repository. */
export class Repository {
  readonly blobs: BlobStore;
  readonly trees: TreeReader;
  readonly snapshots: SnapshotStore;
  /** The blob inventory of this repository's backend, when one is kept. */
  readonly inventory: BlobInventory | undefined;
  /** Local cache directory of this repository (inventory, stat cache). */
  readonly cacheDir: string;
  /** Ids, sealing and opening of objects (encryption, compression). */
  readonly codec: ObjectCodec;
  /**
   * The validated config as in effect: for an encrypted repository its chunker seed is
   * the secret one from the key material, not the 0 stored in the config object.
   */
  readonly config: RepoConfig;
  /** The master keys of an encrypted repository. */
  readonly keys: MasterKeys | undefined;
  /** The key slot that opened it, when encrypted and opened by password. */
  readonly keySlot: string | undefined;
  private readonly dryRun: boolean;

  constructor(
    readonly backend: Backend,
    config: RepoConfig,
    options: OpenOptions = {},
  ) {
    this.keys = options.keys;
    this.keySlot = options.keySlot;
    if (config.encryption !== 'none' && !this.keys) {
      throw new UsageError(
        `the repository at ${backend.location} is encrypted: a password is needed`,
      );
    }
    this.config = this.keys
      ? { ...config, chunker: chunkerParams({ ...config.chunker, seed: this.keys.chunkerSeed }) }
      : config;
    this.codec = new ObjectCodec(
      config.encryption === 'none' ? undefined : this.keys,
      config.compression,
    );
    this.dryRun = options.dryRun ?? false;
    this.cacheDir = options.cacheDir ?? repoCacheDir(config.id);
    const mode = options.inventory ?? 'auto';
    if (mode !== 'auto' && mode !== 'on' && mode !== 'off') {
      throw new UsageError(`inventory must be auto, on or off, got ${JSON.stringify(mode)}`);
    }
    const wanted = mode === 'on' || (mode === 'auto' && wantsInventory(backend));
    this.inventory = wanted
      ? new BlobInventory({
          dir: this.cacheDir,
          location: backend.location,
          ...(options.inventoryMaxAgeMs !== undefined
            ? { maxAgeMs: options.inventoryMaxAgeMs }
            : {}),
          ...(options.epoch !== undefined ? { epoch: options.epoch } : {}),
        })
      : undefined;
    this.blobs = this.blobStore();
    this.trees = new TreeReader(this.blobs);
    this.snapshots = new SnapshotStore(backend, this.codec);
  }

  /** Where the repository lives (path or URL), for messages. */
  get location(): string {
    return this.backend.location;
  }

  /**
   * A new blob store sharing this repository's inventory, with its own counters (for an
   * operation's summary). `backend` may wrap this repository's backend, e.g. a
   * CountingBackend; `dryRun` defaults to the repository's.
   */
  blobStore(options: { dryRun?: boolean; backend?: Backend } = {}): BlobStore {
    return new BlobStore(options.backend ?? this.backend, {
      dryRun: options.dryRun ?? this.dryRun,
      codec: this.codec,
      ...(this.inventory ? { inventory: this.inventory } : {}),
    });
  }

  /**
   * A writer for one directory node, using this repository's paging parameters, storing
   * through `blobs` (default: this repository's own store).
   */
  directoryWriter(blobs: BlobStore = this.blobs): DirectoryWriter {
    return new DirectoryWriter(blobs, this.config.paging);
  }

  async close(): Promise<void> {
    try {
      await this.inventory?.close();
    } finally {
      await this.backend.close();
    }
  }
}

/** True for backends where an existence check costs a round trip and listing works. */
export function isRemoteBackend(backend: Backend): boolean {
  let base: Backend = backend;
  while (base instanceof ForwardingBackend) base = base.inner;
  return !(base instanceof LocalBackend || base instanceof MemoryBackend);
}

function wantsInventory(backend: Backend): boolean {
  return isRemoteBackend(backend) && backend.capabilities.listable;
}

/** Creates a repository in `backend`. Fails with ExistsError if one is there already. */
export async function initRepository(
  backend: Backend,
  options: ConfigOptions = {},
  open: OpenOptions = {},
): Promise<Repository> {
  const enc = options.encryption;
  const config = newConfig(options);
  let keys: MasterKeys | undefined;
  if (enc) {
    keys = enc.shareWith ? derivedMasterKeys(enc.shareWith) : newMasterKeys();
    // An explicit seed (or one copied from another repository) moves into the secrets.
    if (options.chunker?.seed !== undefined && !enc.shareWith)
      keys.chunkerSeed = config.chunker.seed;
    if (enc.password.length === 0) throw new UsageError('the password must not be empty');
  }
  // The config marks the repository as existing, so it is written last: an init that
  // fails before it leaves no repository, and running init again succeeds.
  if (await hasConfig(backend)) throw existsError(backend);
  if (backend.capabilities.listable && (await holdsContent(backend))) {
    // A repository whose config is missing: a new one there would mix with it, and the
    // old data of an encrypted one could never be read again (its slots are bound to
    // the lost config's id).
    throw new ExistsError(
      `${backend.location} holds snapshots, data or trees but no config: a repository ` +
        'whose config is missing. Put its config back (from a copy, or from a repository ' +
        'synced from it), or create the new repository somewhere else',
    );
  }
  await removeLeftoverKeySlots(backend);
  // Slots younger than the leftover age may be a failed encrypted init's (or a running
  // one's): an unencrypted config beside them would be refused at every open.
  if (!enc && (await holdsKeySlots(backend))) {
    throw new ExistsError(
      `${backend.location} holds key slots (${KEYS_PREFIX}) of another init, less than ` +
        '10 minutes old: wait for it to finish, or remove keys/ there if it failed, then run ' +
        'init again',
    );
  }
  let keySlot: string | undefined;
  if (enc && keys) {
    keySlot = await addKeySlot(backend, config.id, keys, enc.password, {
      ...(enc.kdfLogN !== undefined ? { logN: enc.kdfLogN } : {}),
    });
  }
  const written = await backend.put(CONFIG_KEY, encodeConfig(config), { ifNotExists: true });
  if (!written) {
    // A concurrent init won: our slot is bound to our config id and opens nothing there.
    // Failing to take it back only leaves a slot no password opens; the ExistsError is
    // what to report.
    if (keySlot) await discardKeySlot(backend, keySlot).catch(() => {});
    throw existsError(backend);
  }
  return new Repository(backend, config, {
    ...open,
    ...(keys ? { keys } : {}),
    ...(keySlot ? { keySlot } : {}),
  });
}

async function hasConfig(backend: Backend): Promise<boolean> {
  try {
    await backend.stat(CONFIG_KEY);
    return true;
  } catch (err) {
    if (hasCode(err, 'not-found')) return false;
    throw err;
  }
}

function existsError(backend: Backend): ExistsError {
  return new ExistsError(`a repository already exists at ${backend.location}`);
}

/** Opens the repository in `backend`, reading and validating its config. */
export async function openRepositoryIn(
  backend: Backend,
  options: OpenOptions = {},
): Promise<Repository> {
  let bytes: Uint8Array;
  try {
    bytes = await backend.get(CONFIG_KEY, { signal: options.signal });
  } catch (err) {
    if (hasCode(err, 'not-found')) {
      throw new NotFoundError(
        backend.location,
        `no cairn repository at ${backend.location} (no config found; create one with 'cairn init')`,
      );
    }
    throw err;
  }
  const config = decodeConfig(bytes, `${backend.location}/${CONFIG_KEY}`);
  if (config.encryption === 'none') {
    await refuseDowngrade(backend, options.signal);
    refuseUnexpectedlyPlain(backend, config.id, options);
  }
  // The inventory is only kept for listable remotes; others need not pay for the read.
  const epoch =
    options.epoch ??
    (options.inventory === 'on' ||
    ((options.inventory ?? 'auto') === 'auto' && wantsInventory(backend))
      ? await readPruneEpoch(backend, { signal: options.signal })
      : undefined);
  let unlocked: { keys: MasterKeys; slotId: string; damaged: DamagedKeySlot[] } | undefined;
  if (config.encryption !== 'none' && !options.keys) {
    const given = options.password;
    if (given === undefined) {
      throw new UsageError(
        `the repository at ${backend.location} is encrypted: a password is needed`,
      );
    }
    const password = typeof given === 'string' ? given : await given();
    unlocked = await unlockKeys(backend, config.id, password, options.signal);
    for (const slot of unlocked.damaged) options.onNotice?.(damagedSlotNotice(backend, slot));
    options.known?.rememberEncrypted(backend.location, config.id);
  }
  return new Repository(backend, config, {
    ...options,
    ...(epoch ? { epoch } : {}),
    ...(unlocked ? { keys: unlocked.keys, keySlot: unlocked.slotId } : {}),
  });
}

/**
 * The config is the one object that is not sealed, so someone who can write to the
 * storage could rewrite an encrypted repository's config to say `none`, and every
 * later backup would be written in the clear. Key slots exist only in encrypted
 * repositories: a config that says `none` beside them is refused (writers write
 * through listable backends; a read-only HTTP one cannot be listed, and is only read).
 */
async function refuseDowngrade(backend: Backend, signal?: AbortSignal): Promise<void> {
  if (!(await holdsKeySlots(backend, signal))) return;
  throw new FormatError(
    `${backend.location}/${CONFIG_KEY}`,
    `says the repository is not encrypted, but it holds key slots (${KEYS_PREFIX}): ` +
      'the config was replaced or tampered with, and backups would be written unencrypted; ' +
      'refusing to open it (restore the original config, or remove keys/ if they are ' +
      "leftovers of an encrypted 'cairn init' that failed)",
  );
}

/**
 * Key slots can be deleted along with the config's rewrite. What then tells an
 * unencrypted repository from a downgraded one is outside the storage: the caller's
 * expectation (a password given for it) and this machine's record of it.
 */
function refuseUnexpectedlyPlain(backend: Backend, id: string, options: OpenOptions): void {
  // The record first: it is the stronger evidence, and its message says more.
  options.known?.refuseIfEncryptedBefore(backend.location, id);
  if (options.expectEncrypted) {
    throw new FormatError(
      `${backend.location}/${CONFIG_KEY}`,
      `says the repository is not encrypted, but ${options.expectEncrypted}: an encrypted ` +
        'repository whose config and key slots were replaced would look the same, and whatever ' +
        'is written to it would be unencrypted; refusing to open it',
    );
  }
}

function damagedSlotNotice(backend: Backend, slot: DamagedKeySlot): RepoNotice {
  const short = slot.id.slice(0, 8);
  return {
    type: 'notice',
    code: 'key-slot-damaged',
    message:
      `key slot ${short} of ${backend.location} is damaged and opens nothing (${slot.damaged}); ` +
      `see 'cairn key list', and remove it with 'cairn key remove ${short}'`,
    repository: backend.location,
    slot: slot.id,
    path: slotKey(slot.id),
  };
}

/** Opens the repository at a location string (path, `s3:...`, `http(s)://...`). */
export async function openRepository(
  location: string,
  options: OpenOptions = {},
): Promise<Repository> {
  const backend = await openBackend(location);
  try {
    return await openRepositoryIn(backend, options);
  } catch (err) {
    await backend.close();
    throw err;
  }
}

/** Creates a repository at a location string. */
export async function createRepository(
  location: string,
  options: ConfigOptions = {},
  open: OpenOptions = {},
): Promise<Repository> {
  const backend = await openBackend(location);
  try {
    return await initRepository(backend, options, open);
  } catch (err) {
    await backend.close();
    throw err;
  }
}
