/**
 * One snapshot record that cannot be read (damaged on disk, or written by something
 * that broke the format's rules) no longer makes the repository unusable: `snapshots`
 * lists the others and names it (exit 3), a backup passes it over as a parent, while
 * forget by policy (which must see every snapshot to decide what to keep) refuses, and
 * `forget ID` removes it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BackendCapabilities } from '../../src/backends/backend.js';
import { ForwardingBackend } from '../../src/backends/forwarding.js';
import { LocalBackend } from '../../src/backends/local.js';
import { EXIT } from '../../src/cli/context.js';
import { openRepositoryIn } from '../../src/repo/repository.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';

/** A repository with one good snapshot and one record whose bytes are no snapshot. */
async function repoWithUnreadableRecord() {
  process.env.CAIRN_CACHE_DIR = await tempDir();
  const repoDir = join(await tempDir(), 'repo');
  const src = await tempDir();
  writeFileSync(join(src, 'a'), 'a');
  expect((await cli('--repo', repoDir, 'init', '--no-encryption')).code).toBe(0);
  expect((await cli('--repo', repoDir, 'backup', src)).code).toBe(0);
  // Its id matches its bytes (it passes the hash check); it does not decode.
  const repo = await openRepositoryIn(new LocalBackend(repoDir));
  const plaintext = new TextEncoder().encode('not a snapshot record');
  const badId = repo.codec.idOf(plaintext);
  await repo.backend.put(`snapshots/${badId}`, await repo.codec.seal(plaintext));
  await expect(repo.snapshots.list({})).rejects.toMatchObject({ code: 'format' });
  await repo.close();
  return { repoDir, src, badId };
}

describe('an unreadable snapshot record', () => {
  it('does not stop latest and tag: from naming the newest readable snapshot', async () => {
    const { repoDir, badId } = await repoWithUnreadableRecord();
    const target = await tempDir();
    const restore = await cli('--repo', repoDir, 'restore', 'latest', '--target', target);
    expect(restore.code, restore.stderr).toBe(EXIT.ok);
    expect(restore.stderr).toContain(`note: snapshots/${badId} cannot be read (snapshot ${badId}:`);
    expect(restore.stderr).toContain('latest is the newest snapshot that can');
    const ls = await cli('--repo', repoDir, '--json', 'ls', 'latest');
    expect(ls.code).toBe(EXIT.ok);
    expect(ls.json.find((e) => e.type === 'notice')).toMatchObject({
      code: 'snapshot-unreadable',
      path: `snapshots/${badId}`,
    });
    expect(ls.json.some((e) => e.type === 'entry' || e.path === 'a')).toBe(true);
    // An id names that record and nothing else: still the error it was.
    const direct = await cli('--repo', repoDir, 'ls', badId.slice(0, 8));
    expect(direct.code).toBe(EXIT.failure);
  });

  it('is named and passed over by sync, which copies the others (exit 3)', async () => {
    const { repoDir, badId } = await repoWithUnreadableRecord();
    const dst = join(await tempDir(), 'dst');
    const init = await cli('--repo', dst, 'init', '--copy-params-from', repoDir);
    expect(init.code).toBe(EXIT.ok);
    const latest = await cli('sync', repoDir, dst, 'latest');
    expect(latest.code, latest.stderr).toBe(EXIT.ok);
    expect(latest.stderr).toContain(`note: snapshots/${badId} cannot be read`);
    const all = await cli('sync', repoDir, dst);
    expect(all.code).toBe(EXIT.partial);
    expect(all.stderr).toContain(`warning: snapshot ${badId} cannot be read in the source`);
    expect(all.stderr).toContain('1 snapshot could not be copied');
    const listed = await cli('--repo', dst, '--json', 'snapshots');
    expect(listed.json.filter((e) => e.type === 'snapshot')).toHaveLength(1);
  });

  it('is named and left out by snapshots and backup; forget refuses', async () => {
    const { repoDir, src, badId } = await repoWithUnreadableRecord();

    const list = await cli('--repo', repoDir, '--json', 'snapshots');
    expect(list.code).toBe(EXIT.partial);
    expect(list.json.filter((e) => e.type === 'snapshot')).toHaveLength(1);
    expect(list.json.find((e) => e.type === 'warning')).toMatchObject({
      path: `snapshots/${badId}`,
      code: 'format',
    });
    expect(list.json.at(-1)).toMatchObject({ type: 'summary', snapshots: 1, unreadable: 1 });

    writeFileSync(join(src, 'b'), 'b');
    const b = await cli('--repo', repoDir, 'backup', src);
    expect(b.code).toBe(EXIT.ok);
    expect(b.stderr).toContain(`note: snapshot ${badId} cannot be read`);

    const f = await cli('--repo', repoDir, 'forget', '--keep-last', '1');
    expect(f.code).toBe(EXIT.failure);
    expect(f.stderr).toContain(badId);
    const text = await cli('--repo', repoDir, 'snapshots');
    expect(text.stdout).toContain('2 snapshots');
    const st = await cli('--repo', repoDir, '--json', 'stats');
    expect(st.code).toBe(EXIT.partial);
    expect(st.json.at(-1)).toMatchObject({ snapshots: 2, unreadableSnapshots: 1 });
    const p = await cli('--repo', repoDir, 'prune');
    expect(p.code).toBe(EXIT.failure);
    expect(p.stderr).toContain(`cairn forget ${badId}`);
    expect(text.stderr).toContain(`warning: snapshots/${badId}:`);

    // Named by a prefix: removed without reading it; a policy cannot be given too.
    const both = await cli('--repo', repoDir, 'forget', badId.slice(0, 10), '--keep-last', '1');
    expect(both.code).toBe(EXIT.usage);
    const dry = await cli('--repo', repoDir, 'forget', '-n', badId.slice(0, 10));
    expect(dry.code).toBe(EXIT.ok);
    expect(dry.stdout).toContain(`would remove snapshot ${badId.slice(0, 8)}`);
    const gone = await cli('--repo', repoDir, '--json', 'forget', badId.slice(0, 10));
    expect(gone.code).toBe(EXIT.ok);
    expect(gone.json.at(-1)).toMatchObject({ type: 'summary', removed: [badId], kept: 2 });
    const after = await cli('--repo', repoDir, 'snapshots');
    expect(after.code).toBe(EXIT.ok);
    expect(after.stderr).toBe('');
    expect((await cli('--repo', repoDir, 'forget', '--keep-last', '1')).code).toBe(EXIT.ok);
    expect((await cli('--repo', repoDir, 'forget', 'abcd1234')).code).toBe(EXIT.failure);
    expect((await cli('--repo', repoDir, 'forget', 'xyz')).code).toBe(EXIT.usage);
  });

  it('in the snapshot index of a repository that cannot be listed (HTTP): the others stay readable', async () => {
    const { repoDir, badId } = await repoWithUnreadableRecord();
    const repo = await openRepositoryIn(new LocalBackend(repoDir));
    await repo.snapshots.rebuildIndex();
    await repo.close();

    class Unlistable extends ForwardingBackend {
      override get capabilities(): BackendCapabilities {
        return { ...this.inner.capabilities, listable: false };
      }
    }
    const remote = await openRepositoryIn(new Unlistable(new LocalBackend(repoDir)));
    const unreadable: string[] = [];
    const refs = await remote.snapshots.list({}, undefined, (id) => unreadable.push(id));
    expect(refs).toHaveLength(1);
    expect(unreadable).toEqual([badId]);
    await expect(remote.snapshots.list({})).rejects.toMatchObject({ code: 'format' });
    await remote.close();
  });
});
