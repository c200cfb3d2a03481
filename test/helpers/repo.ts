/** Test helpers: small repositories with tiny chunks so small files cross boundaries. */
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { initRepository, type Repository } from '../../src/repo/repository.js';
import { SnapshotStore } from '../../src/repo/snapshots.js';
import { tempDir } from './fs.js';

/** Tiny chunker parameters: files of a few KiB span several chunks. */
export const TINY_CHUNKS = { min: 64, avg: 256, max: 1024, level: 1 };

/** A repository in a temporary local directory. */
export async function localRepo(
  options: { inlineMax?: number; chunker?: typeof TINY_CHUNKS } = {},
): Promise<{ repo: Repository; dir: string }> {
  const dir = await tempDir('cairn-repo-');
  const repo = await initRepository(new LocalBackend(dir), {
    chunker: options.chunker ?? TINY_CHUNKS,
    inlineMax: options.inlineMax ?? 32,
  });
  return { repo, dir };
}

/** A repository in memory. */
export async function memoryRepo(options: { inlineMax?: number } = {}): Promise<Repository> {
  return initRepository(new MemoryBackend(), {
    chunker: TINY_CHUNKS,
    inlineMax: options.inlineMax ?? 32,
  });
}

/** A view of a backend that cannot list: snapshots are found through the index. */
class Unlistable extends ForwardingBackend {
  override get capabilities() {
    return { ...this.inner.capabilities, listable: false };
  }
}

/** The ids in `index/snapshots`, as a reader that cannot list finds them. */
export async function indexedIds(repo: Repository): Promise<string[]> {
  return (await new SnapshotStore(new Unlistable(repo.backend), repo.codec).ids()).sort();
}
