/**
 * A repository: a backend plus its validated config, with the stores built on it.
 * `initRepository` writes the config (refusing to overwrite one); `openRepository`
 * reads it and says clearly when there is no repository, or a foreign one, there.
 */
import type { Backend } from '../backends/backend.js';
import { ForwardingBackend } from '../backends/forwarding.js';
import { LocalBackend } from '../backends/local.js';
import { MemoryBackend } from '../backends/memory.js';
import { openBackend } from '../backends/open.js';
import { ExistsError, hasCode, NotFoundError, UsageError } from '../core/errors.js';
import { BlobStore } from './blob-store.js';
import { repoCacheDir } from './cache-dir.js';
import {
  type ConfigOptions,
  decodeConfig,
  encodeConfig,
  newConfig,
  type RepoConfig,
} from './config.js';
import { BlobInventory } from './inventory.js';
import { CONFIG_KEY } from './layout.js';
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
  private readonly dryRun: boolean;

  constructor(
    readonly backend: Backend,
    readonly config: RepoConfig,
    options: OpenOptions = {},
  ) {
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
        })
      : undefined;
    this.blobs = this.blobStore();
    this.trees = new TreeReader(this.blobs);
    this.snapshots = new SnapshotStore(backend);
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
      ...(this.inventory ? { inventory: this.inventory } : {}),
    });
  }

  /** A writer for one directory node, using this repository's paging parameters. */
  directoryWriter(): DirectoryWriter {
    return new DirectoryWriter(this.blobs, this.config.paging);
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
  const config = newConfig(options);
  const written = await backend.put(CONFIG_KEY, encodeConfig(config), { ifNotExists: true });
  if (!written) throw new ExistsError(`a repository already exists at ${backend.location}`);
  return new Repository(backend, config, open);
}

/** Opens the repository in `backend`, reading and validating its config. */
export async function openRepositoryIn(
  backend: Backend,
  options: OpenOptions = {},
): Promise<Repository> {
  let bytes: Uint8Array;
  try {
    bytes = await backend.get(CONFIG_KEY);
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
  return new Repository(backend, config, options);
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
