/**
 * A repository: a backend plus its validated config, with the stores built on it.
 * `initRepository` writes the config (refusing to overwrite one); `openRepository`
 * reads it and says clearly when there is no repository, or a foreign one, there.
 */
import type { Backend } from '../backends/backend.js';
import { openBackend } from '../backends/open.js';
import { ExistsError, hasCode, NotFoundError } from '../core/errors.js';
import { BlobStore } from './blob-store.js';
import {
  type ConfigOptions,
  decodeConfig,
  encodeConfig,
  newConfig,
  type RepoConfig,
} from './config.js';
import { CONFIG_KEY } from './layout.js';
import { SnapshotStore } from './snapshots.js';
import { DirectoryWriter, TreeReader } from './tree-store.js';

/** Options for opening a repository. */
export interface OpenOptions {
  /** Count writes but do not perform them (backup --dry-run). */
  dryRun?: boolean;
}

/** An open repository. */
export class Repository {
  readonly blobs: BlobStore;
  readonly trees: TreeReader;
  readonly snapshots: SnapshotStore;

  constructor(
    readonly backend: Backend,
    readonly config: RepoConfig,
    options: OpenOptions = {},
  ) {
    this.blobs = new BlobStore(backend, options.dryRun ?? false);
    this.trees = new TreeReader(this.blobs);
    this.snapshots = new SnapshotStore(backend);
  }

  /** Where the repository lives (path or URL), for messages. */
  get location(): string {
    return this.backend.location;
  }

  /** A writer for one directory node, using this repository's paging parameters. */
  directoryWriter(): DirectoryWriter {
    return new DirectoryWriter(this.blobs, this.config.paging);
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

/** Creates a repository in `backend`. Fails with ExistsError if one is there already. */
export async function initRepository(
  backend: Backend,
  options: ConfigOptions = {},
): Promise<Repository> {
  const config = newConfig(options);
  const written = await backend.put(CONFIG_KEY, encodeConfig(config), { ifNotExists: true });
  if (!written) throw new ExistsError(`a repository already exists at ${backend.location}`);
  return new Repository(backend, config);
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
): Promise<Repository> {
  const backend = await openBackend(location);
  try {
    return await initRepository(backend, options);
  } catch (err) {
    await backend.close();
    throw err;
  }
}
