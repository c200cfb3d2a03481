/**
 * `cairn repair snapshots`: a line per damaged path and per repaired snapshot, `--json`
 * events and a summary, `--forget` leaves a repository `check` finds clean, and a
 * repository without damage is left as it is.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { EXIT } from '../../src/cli/context.js';
import { walkTree } from '../../src/ops/walk.js';
import { blobKey } from '../../src/repo/layout.js';
import { Lock } from '../../src/repo/locks.js';
import { openRepository } from '../../src/repo/repository.js';
import { cli } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/fs.js';

describe('cairn repair snapshots', () => {
  it('names what it removes, and leaves a repository check finds clean', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    await writeTree(src, {
      'keep.txt': 'k'.repeat(300_000),
      docs: { 'lost.txt': 'l'.repeat(300_000) },
    });
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    const clean = await cli('--repo', repo, 'repair', 'snapshots');
    expect(clean.code, clean.stderr).toBe(EXIT.ok);
    expect(clean.stdout).toContain('repaired 0 snapshot(s); 1 had nothing to repair');

    // The blob of docs/lost.txt goes.
    const opened = await openRepository(repo);
    const { snapshot, id } = (await opened.snapshots.list())[0]!;

    let chunk = '';
    for await (const { path, entry } of walkTree(opened, snapshot.tree)) {
      if (path === 'docs/lost.txt' && entry.kind === 'file') chunk = entry.chunks[0]!.id;
    }
    await opened.close();
    await rm(join(repo, blobKey('data', chunk)));
    expect((await cli('--repo', repo, 'check')).code).toBe(1);

    const dry = await cli('--repo', repo, 'repair', 'snapshots', '-n');
    expect(dry.code, dry.stderr).toBe(EXIT.ok);
    expect(dry.stdout).toContain(
      `  file docs/lost.txt (in ${id.slice(0, 8)}): data blob ${chunk} is missing\n`,
    );
    expect(dry.stdout).toMatch(
      new RegExp(`would repair ${id.slice(0, 8)} \\(.+\\): would remove 1 file \\(293 KiB\\)`),
    );
    const j = await cli('--repo', repo, '--json', 'repair', 'snapshots', '--forget');
    expect(j.code, j.stderr).toBe(EXIT.ok);
    expect(j.json.find((e) => e.type === 'damaged')).toMatchObject({
      snapshot: id,
      path: 'docs/lost.txt',
      kind: 'file',
    });
    expect(j.json.find((e) => e.type === 'snapshot')).toMatchObject({
      from: id,
      original: id,
      lost: { files: 1, bytes: 300_000, trees: 0, entries: 0 },
    });
    expect(j.json.at(-1)).toMatchObject({
      type: 'summary',
      operation: 'repair',
      repaired: 1,
      intact: 0,
      missingBlobs: 1,
      forgotten: 1,
      dryRun: false,
    });
    const after = await cli('--repo', repo, 'check');
    expect(after.code, after.stdout + after.stderr).toBe(EXIT.ok);
    const files = await cli('--repo', repo, 'ls', 'latest');
    expect(files.stdout).toContain('keep.txt');
    expect(files.stdout).not.toContain('lost.txt');
  });

  it('says what it left undeleted while a backup holds its lock, and deletes it on a rerun', async () => {
    process.env.CAIRN_CACHE_DIR = await tempDir();
    const repo = join(await tempDir(), 'repo');
    const src = await tempDir();
    await writeTree(src, { docs: { 'lost.txt': 'l'.repeat(300_000) }, 'keep.txt': 'keep' });
    expect((await cli('--repo', repo, 'init', '--no-encryption')).code).toBe(0);
    expect((await cli('--repo', repo, 'backup', src)).code).toBe(0);
    const opened = await openRepository(repo);
    const { snapshot } = (await opened.snapshots.list())[0]!;
    for await (const { path, entry } of walkTree(opened, snapshot.tree)) {
      if (path === 'docs/lost.txt' && entry.kind === 'file') {
        await rm(join(repo, blobKey('data', entry.chunks[0]!.id)));
      }
    }
    await opened.close();
    const backupLock = await Lock.acquire(new LocalBackend(repo), {
      exclusive: false,
      operation: 'backup',
    });
    const held = await cli('--repo', repo, '--json', 'repair', 'snapshots', '--forget');
    await backupLock.release();
    expect(held.code, held.stderr).toBe(EXIT.partial);
    expect(held.json.find((e) => e.type === 'warning')?.message).toMatch(
      /^nothing was deleted: 1 backup\(s\) in progress \(.*\); run the repair again once they end$/,
    );
    expect(held.json.find((e) => e.type === 'summary')).toMatchObject({
      repaired: 1,
      forgotten: 1,
      deletedTrees: 0,
    });
    const rerun = await cli('--repo', repo, 'repair', 'snapshots', '--forget');
    expect(rerun.code, rerun.stderr).toBe(EXIT.ok);
    expect(rerun.stderr).toMatch(/note: deleted 2 tree nodes that led to damage/);
    expect((await cli('--repo', repo, 'check')).code).toBe(EXIT.ok);
  });
});
