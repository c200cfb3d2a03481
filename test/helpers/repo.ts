/** Test helpers: small repositories with tiny chunks so small files cross boundaries. */
import { LocalBackend } from '../../src/backends/local.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { initRepository, type Repository } from '../../src/repo/repository.js';
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
