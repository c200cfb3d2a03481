/** Shared by the repair tests: finding an entry, a fresh handle, what check finds, deletions. */
import type { CallOptions } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import type { ObjectId } from '../../src/core/ids.js';
import { check } from '../../src/ops/check.js';
import { walkTree } from '../../src/ops/walk.js';
import { openRepositoryIn, type Repository } from '../../src/repo/repository.js';

/** The entry at snapshot path `path` below `tree`. */
export async function entryAt(repo: Repository, tree: ObjectId, path: string) {
  for await (const e of walkTree(repo, tree)) if (e.path === path) return e.entry;
  throw new Error(`${path} not in the tree`);
}

/** A fresh handle on the repository in `dir` (no cached trees), with the inventory as asked. */
export function openFresh(
  dir: string,
  options: { inventory?: 'on' | 'off'; cacheDir?: string } = {},
): Promise<Repository> {
  return openRepositoryIn(new LocalBackend(dir), options);
}

/** What `check --read-data` finds in the repository in `dir`. */
export async function problems(dir: string): Promise<string[]> {
  return (await check(await openFresh(dir), { readData: true })).problems.map((p) => p.message);
}

/** A backend that records the keys deleted through it, in order. */
export class RecordsDeletes extends ForwardingBackend {
  readonly deleted: string[] = [];
  override delete(key: string, options?: CallOptions): Promise<void> {
    this.deleted.push(key);
    return super.delete(key, options);
  }
}
