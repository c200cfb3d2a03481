// Build versions side by side: consecutive releases of a large npm package (fetched with
// `npm pack` when the registry is reachable) are backed up into one repository, one
// snapshot each, then each release is restored over the previous one.
// Reports bytes stored against their total, and bytes fetched for each step.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { distModule } from './dist.mjs';
import { DEFAULT_VERSIONS, PACKAGE, release } from './releases.mjs';

const { backup, CountingBackend, initRepository, LocalBackend, openRepositoryIn, restore } =
  await distModule();
const MiB = 1048576;

/** Runs the benchmark under `root`; returns table rows [measure, value, notes]. */
export async function benchBuilds({ root, versions = DEFAULT_VERSIONS } = {}) {
  const dirs = versions.map((v) => release(v));
  const repoDir = join(root, 'repo-builds');
  await rm(repoDir, { recursive: true, force: true });
  const repo = await initRepository(new LocalBackend(repoDir));
  let total = 0;
  const ids = [];
  for (const [i, dir] of dirs.entries()) {
    const { snapshotId, snapshot } = await backup(repo, {
      paths: [dir],
      tags: [`v${versions[i]}`],
      statCacheDir: false,
    });
    total += snapshot.summary.bytes;
    ids.push({ id: snapshotId, snapshot });
  }
  let stored = 0;
  for await (const info of repo.backend.list('')) stored += info.size;
  const rows = [
    [
      `${versions.length} ${PACKAGE} releases stored side by side`,
      `${(stored / MiB).toFixed(1)} MiB`,
      `of ${(total / MiB).toFixed(1)} MiB (${((stored / total) * 100).toFixed(1)}%), ${versions[0]}..${versions.at(-1)}`,
    ],
  ];
  // move a machine from each release to the next, counting what is read from the repository
  const counting = new CountingBackend(repo.backend);
  const remote = await openRepositoryIn(counting);
  const target = join(root, 'builds-target');
  await rm(target, { recursive: true, force: true });
  await mkdir(target, { recursive: true });
  await restore(remote, ids[0].id, ids[0].snapshot, { target });
  const steps = [];
  for (let i = 1; i < ids.length; i++) {
    counting.reset();
    await restore(remote, ids[i].id, ids[i].snapshot, { target, delete: true });
    steps.push(`${versions[i]}: ${(counting.counts.bytesIn / MiB).toFixed(2)}`);
  }
  rows.push(['bytes fetched moving to each next release (MiB)', '', steps.join(', ')]);
  await rm(target, { recursive: true, force: true });
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [a, v, n] of await benchBuilds({ root: join(process.cwd(), '.bench') }))
    console.log(`${a}  ${v}  ${n}`);
}
