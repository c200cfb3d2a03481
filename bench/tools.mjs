// The tools the bench compares, behind one interface: init a repository, back up a
// folder under a label, restore a label into a target. Every operation is one child
// process, timed from outside (wall clock, process start included, the same for every
// tool) and with its peak RSS: /usr/bin/time's %M when present, else VmHWM polled from
// /proc/<pid>/status. cairn runs through bench/step.mjs (the library, no CLI parsing),
// which also reports its own VmHWM and the operation's time inside the process.
//
// Peers use their normal defaults: restic 0.14 (repository v2; `--compression auto`,
// its default, i.e. zstd, and `--compression off`), borg 1.2 (`init -e none`, default
// lz4), casync (`make` / `extract` with a local chunk store). Their caches go under the
// run's folder instead of ~/.cache, so runs do not leak into each other.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** The version line of `cmd`, or undefined when it is not installed. */
function versionOf(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]
      .trim();
  } catch {
    return undefined;
  }
}

/**
 * Runs `cmd args` and resolves { ms, rssMiB, stdout }. Throws with the tool's stderr when
 * it exits non-zero (exit code 3 of cairn/restic "finished with warnings" included).
 */
export async function measure(cmd, args, { env, cwd, rssFile, okCodes = [0] } = {}) {
  const useTime = TIME && rssFile;
  const argv = useTime ? [TIME, '-f', '%M', '-o', rssFile, cmd, ...args] : [cmd, ...args];
  const started = performance.now();
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let hwm = 0;
  // Without /usr/bin/time: poll the child's own high-water mark while it runs.
  const poll = useTime
    ? undefined
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) hwm = Math.max(hwm, Number(m[1]));
        } catch {
          // exited between polls
        }
      }, 20);
  const out = [];
  const err = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  const code = await new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (c) => res(c));
  });
  const ms = performance.now() - started;
  if (poll) clearInterval(poll);
  const stdout = Buffer.concat(out).toString('utf8');
  if (!okCodes.includes(code)) {
    const tail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-5).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${tail}`);
  }
  let rssMiB = hwm / 1024;
  if (useTime) {
    const lines = (await readFile(rssFile, 'utf8')).trim().split('\n');
    rssMiB = Number(lines.at(-1)) / 1024;
    await rm(rssFile, { force: true });
  }
  return { ms, rssMiB, stdout };
}

/** A cairn step in its own process (bench/step.mjs); resolves its JSON line plus timing. */
export async function cairnStep(step, args, scratch) {
  const m = await measure(
    process.execPath,
    [join(import.meta.dirname, 'step.mjs'), step, JSON.stringify(args)],
    { rssFile: join(scratch, `rss-${process.pid}-${Date.now()}`) },
  );
  const result = JSON.parse(m.stdout.trim().split('\n').pop());
  // The step's own VmHWM is exact for the process; /usr/bin/time's figure is the same
  // process measured from outside. Keep the larger, to be safe.
  return { ...result, wallMs: m.ms, rssMiB: Math.max(m.rssMiB, result.maxRssMiB ?? 0) };
}

/** Which zstd the cairn build uses, e.g. `zstd native 1.5.7` (CAIRN_ZSTD can pick one). */
function zstdEngineOfCairn() {
  const out = execFileSync(
    process.execPath,
    [join(import.meta.dirname, 'step.mjs'), 'zstd-engine'],
    {
      encoding: 'utf8',
    },
  );
  const { name, version } = JSON.parse(out.trim().split('\n').pop());
  return `zstd ${name}${version ? ` ${version}` : ''}`;
}

/**
 * The tools. Each has `name`, `peer` (false for cairn), `version`, and async
 * `init(repo)`, `backup(repo, src, label)`, `restore(repo, label, target)`, each
 * resolving { ms, rssMiB }. `scratch` is a folder for caches and RSS files.
 */
export function makeTools(scratch) {
  const rss = (what) => join(scratch, `rss-${what}-${process.pid}`);
  const tools = [];

  const cairnVersion = `cairn ${JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')).version}`;
  const cairn = (name, compression) => ({
    name,
    peer: false,
    version: compression ? `${cairnVersion} (${zstdEngineOfCairn()})` : cairnVersion,
    async init(repo) {
      const r = await cairnStep('init', { repo, ...(compression ? { compression } : {}) }, scratch);
      return { ms: r.wallMs, rssMiB: r.rssMiB };
    },
    async backup(repo, src, label) {
      // The stat cache is per source folder set, as the CLI keeps it per repository.
      const cache = join(`${repo}.statcache`);
      const r = await cairnStep('backup', { repo, src, cache, tag: label }, scratch);
      return { ms: r.wallMs, opMs: r.ms, rssMiB: r.rssMiB, summary: r.summary };
    },
    async restore(repo, label, target) {
      const r = await cairnStep('restore', { repo, target, tag: label }, scratch);
      return { ms: r.wallMs, opMs: r.ms, rssMiB: r.rssMiB, summary: r.summary };
    },
  });
  tools.push(cairn('cairn'));
  // The CLI's default compression (the `backup` preset), in every scenario.
  tools.push(cairn('cairn zstd', 'auto'));

  const resticVersion = versionOf('restic', ['version']);
  if (resticVersion) {
    const restic = (name, compression) => {
      const env = (repo) => ({
        RESTIC_REPOSITORY: repo,
        RESTIC_PASSWORD: 'bench',
        XDG_CACHE_HOME: join(scratch, 'cache'),
      });
      return {
        name,
        peer: true,
        version: resticVersion.split(' compiled')[0],
        async init(repo) {
          return measure('restic', ['init', '-q'], { env: env(repo), rssFile: rss('restic') });
        },
        async backup(repo, src, label) {
          return measure(
            'restic',
            ['backup', '-q', '--compression', compression, '--tag', label, src],
            { env: env(repo), rssFile: rss('restic') },
          );
        },
        async restore(repo, label, target) {
          return measure(
            'restic',
            ['restore', '-q', 'latest', '--tag', label, '--target', target],
            {
              env: env(repo),
              rssFile: rss('restic'),
            },
          );
        },
      };
    };
    tools.push(restic('restic zstd', 'auto'));
    tools.push(restic('restic', 'off'));
  }

  const borgVersion = versionOf('borg', ['--version']);
  if (borgVersion) {
    const env = {
      BORG_BASE_DIR: join(scratch, 'borg'),
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    };
    tools.push({
      name: 'borg',
      peer: true,
      version: borgVersion,
      async init(repo) {
        return measure('borg', ['init', '-e', 'none', repo], { env, rssFile: rss('borg') });
      },
      async backup(repo, src, label) {
        return measure('borg', ['create', `${repo}::${label}`, src], {
          env,
          rssFile: rss('borg'),
        });
      },
      async restore(repo, label, target) {
        await mkdir(target, { recursive: true });
        return measure('borg', ['extract', `${repo}::${label}`], {
          env,
          cwd: target,
          rssFile: rss('borg'),
        });
      },
    });
  }

  const casyncVersion = versionOf('casync', ['--version']);
  if (casyncVersion) {
    // One folder holds the chunk store and the indexes (the "repository").
    tools.push({
      name: 'casync',
      peer: true,
      version: `casync ${casyncVersion.replace(/^casync\s*/, '')}`,
      async init(repo) {
        await mkdir(join(repo, 'store'), { recursive: true });
        return { ms: 0, rssMiB: 0 };
      },
      async backup(repo, src, label) {
        return measure(
          'casync',
          ['make', `--store=${join(repo, 'store')}`, join(repo, `${label}.caidx`), src],
          { rssFile: rss('casync') },
        );
      },
      async restore(repo, label, target) {
        return measure(
          'casync',
          ['extract', `--store=${join(repo, 'store')}`, join(repo, `${label}.caidx`), target],
          { rssFile: rss('casync') },
        );
      },
    });
  }
  return tools;
}
