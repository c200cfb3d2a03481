/**
 * `cairn completion bash|zsh|fish`: the scripts, loaded into the real shells, complete
 * commands, options, option values and arguments as the declarations in
 * src/cli/main.ts say. zsh and fish are installed with apt-get when missing (as root);
 * their tests are skipped, with the reason in their title, when that cannot be done.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bashScript } from '../../src/cli/completion/bash.js';
import { completionSpec } from '../../src/cli/completion/spec.js';
import { buildProgram } from '../../src/cli/main.js';
import { cli } from '../helpers/cli.js';
import {
  bashCompletions,
  bashReadlineCompletions,
  type Candidate,
  fishCompletions,
  zshCompletions,
} from '../helpers/complete-in.js';
import { ensureShells } from '../helpers/shells.js';

const run = promisify(execFile);
const shells = await ensureShells();

/** The commands of the program, as `cairn --help` lists them. */
const COMMANDS = buildProgram(async () => {})
  .commands.map((c) => c.name())
  .concat('help');

/** A directory to complete file names in: two files and a directory. */
let work: string;
/** Where the scripts are written (not in `work`, whose names are completed). */
let scripts: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-completion-'));
  scripts = await mkdtemp(join(tmpdir(), 'cairn-completion-scripts-'));
  await writeFile(join(work, 'alpha.txt'), 'a\n');
  await writeFile(join(work, 'excludes.list'), '*.tmp\n');
  await mkdir(join(work, 'beta'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  await rm(scripts, { recursive: true, force: true });
});

/** The script for `shell`, written by the command, in a file. */
async function scriptFile(shell: string): Promise<string> {
  const r = await cli('completion', shell);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  const path = join(scripts, `cairn.${shell}`);
  await writeFile(path, r.stdout);
  return path;
}

/** The modules (file: URLs) that running `args` with the build's main() loads. */
async function modulesLoaded(main: string, args: string[]): Promise<string[]> {
  const log = join(scripts, 'modules.log');
  const hooks = join(scripts, 'log-modules.mjs');
  await writeFile(log, '');
  await writeFile(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(log)}, url + '\\n');
  return next(url, context);
}
`,
  );
  const register = `import{register}from'node:module';register(${JSON.stringify(pathToFileURL(hooks).href)});`;
  const script = `const { main } = await import(${JSON.stringify(pathToFileURL(main).href)}); process.exitCode = await main(${JSON.stringify(args)});`;
  await run(process.execPath, [
    '--import',
    `data:text/javascript,${encodeURIComponent(register)}`,
    '--input-type=module',
    '-e',
    script,
  ]);
  return (await readFile(log, 'utf8')).split('\n').filter((url) => url.startsWith('file:'));
}

const sorted = (words: string[]) => [...words].sort();
const words = (candidates: Candidate[]) => sorted(candidates.map((c) => c.word));
/** File names offered in `work` (bash and zsh offer `beta`, fish `beta/`). */
const FILES = ['alpha.txt', 'beta', 'excludes.list'];

describe('cairn completion', () => {
  it('refuses an unknown shell, naming the shells, and --json (exit 2)', async () => {
    const unknown = await cli('completion', 'tcsh');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/bash, zsh, fish/);
    expect(unknown.stdout).toBe('');
    const json = await cli('--json', 'completion', 'bash');
    expect(json.code).toBe(2);
    expect(json.json).toEqual([
      expect.objectContaining({
        type: 'error',
        code: 'usage',
        message: expect.stringMatching(/--json/),
      }),
    ]);
    expect((await cli('completion')).code).toBe(2);
  });

  it('never opens the repository: no password, no repository needed', async () => {
    const previous = { repo: process.env.CAIRN_REPO, password: process.env.CAIRN_PASSWORD };
    process.env.CAIRN_REPO = join(work, 'no-such-repository');
    delete process.env.CAIRN_PASSWORD;
    try {
      const r = await cli('completion', 'fish');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^complete -c cairn /m);
    } finally {
      for (const [name, value] of [
        ['CAIRN_REPO', previous.repo],
        ['CAIRN_PASSWORD', previous.password],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('loads only what --help loads, and its own modules (the build)', async () => {
    const main = resolve(process.env.CAIRN_DIST ?? 'dist', 'cli/main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    const help = await modulesLoaded(main, ['--help']);
    const completion = await modulesLoaded(main, ['completion', 'bash']);
    const own = completion.filter((url) => !help.includes(url));
    expect(own.length).toBeGreaterThan(0);
    for (const url of own)
      expect(url).toMatch(/\/cli\/(completion\/[\w-]+|commands\/completion)\.js$/);
    expect(completion.filter((url) => /repo\/repository|msgpackr|\/level|zstd/.test(url))).toEqual(
      [],
    );
  });

  it('the fixed words now declared as choices still refuse other values (exit 2)', async () => {
    const key = await cli('--repo', join(work, 'none'), 'key', 'rotate');
    expect(key.code).toBe(2);
    expect(key.stderr).toMatch(/list, add, remove, passwd/);
  });
});

describe('bash', () => {
  let script: string;
  beforeAll(async () => {
    script = await scriptFile('bash');
  });
  const complete = (...lines: string[]) => bashCompletions(script, lines, { cwd: work });

  it('completes commands, subcommands and `help COMMAND`', async () => {
    const [res, all, repair, help] = await complete(
      'cairn res',
      'cairn ',
      'cairn repair ',
      'cairn help re',
    );
    expect(res).toEqual(['restore']);
    expect(sorted(all!)).toEqual(sorted(COMMANDS));
    expect(all).toContain('completion');
    expect(sorted(repair!)).toEqual(['help', 'snapshots']);
    expect(sorted(help!)).toEqual(['repair', 'restore', 'rewrite']);
  });

  it('completes the choices of options and fixed words of arguments', async () => {
    const answers = await complete(
      'cairn init --preset b',
      'cairn init --compression ',
      'cairn restore latest --overwrite ',
      'cairn key ',
      'cairn cat ',
      'cairn completion ',
      'cairn ls ',
      'cairn diff latest ',
      'cairn forget ',
    );
    expect(answers.map(sorted)).toEqual([
      ['backup', 'builds'],
      ['auto', 'max', 'off'],
      ['always', 'changed', 'never'],
      ['add', 'list', 'passwd', 'remove'],
      ['blob', 'config', 'snapshot', 'tree'],
      ['bash', 'fish', 'zsh'],
      ['latest'],
      ['latest'],
      // forget takes ids only, never `latest`
      [],
    ]);
  });

  it('completes file names for file values and paths, directories for directories', async () => {
    const answers = await complete(
      'cairn backup --exclude-file ',
      'cairn backup --files-from e',
      'cairn backup ',
      'cairn backup alpha.txt ',
      // -t takes the rest of the word: the next is a path again
      'cairn backup -tdaily ',
      'cairn --password-file ',
      'cairn restore latest --target ',
      'cairn sync ',
      'cairn chunk a',
    );
    expect(answers.map(sorted)).toEqual([
      FILES,
      ['excludes.list'],
      FILES,
      FILES,
      FILES,
      FILES,
      ['beta'],
      ['beta'],
      ['alpha.txt'],
    ]);
  });

  it('offers nothing, not file names, for a value that is not a file', async () => {
    const answers = await complete(
      'cairn backup --tag ',
      'cairn backup -t ',
      'cairn forget --keep-last ',
      'cairn --password-command ',
      'cairn find ',
      'cairn backup -nt ',
    );
    expect(answers).toEqual([[], [], [], [], [], []]);
  });

  it('completes global options after a command, and their values there', async () => {
    const [options, repo, afterValue, short, hidden] = await complete(
      'cairn backup --re',
      'cairn backup --repo ',
      'cairn -r beta res',
      'cairn restore -',
      'cairn --no-',
    );
    expect(options).toEqual(['--repo']);
    expect(repo).toEqual(['beta']);
    expect(afterValue).toEqual(['restore']);
    expect(short).toEqual(
      expect.arrayContaining(['-r', '--json', '--target', '-i', '--overwrite']),
    );
    // another command's options are not offered
    expect(short).not.toContain('--preset');
    // nor hidden ones (--no-color)
    expect(hidden).toEqual([]);
  });

  it('completes --opt=value and after --', async () => {
    const answers = await complete(
      'cairn --repo=',
      'cairn --repo=b',
      'cairn restore latest --overwrite=a',
      'cairn backup --exclude-file=ex',
      'cairn diff tag:v1 ',
      'cairn backup -- --',
      'cairn backup -- ',
    );
    expect(answers.map(sorted)).toEqual([
      ['beta'],
      ['beta'],
      ['always'],
      ['excludes.list'],
      ['latest'],
      [],
      FILES,
    ]);
  });

  it('splits words as readline does (typed into an interactive bash)', async () => {
    const answers = await bashReadlineCompletions(
      script,
      [
        'cairn --repo=',
        'cairn --repo=b',
        'cairn restore latest --overwrite=ne',
        'cairn diff tag:v1 ',
        'cairn res',
        // A word opened with a quote: readline replaces it quote and all.
        "cairn backup 'al",
        'cairn backup "al',
        "cairn --repo='b",
      ],
      { cwd: work, outDir: scripts },
    );
    expect(answers).toEqual([
      ['beta'],
      ['beta'],
      ['never'],
      ['latest'],
      ['restore'],
      ['alpha.txt'],
      ['alpha.txt'],
      ['beta'],
    ]);
  });

  it.skipIf(shells['bash-completion'].missing)(
    `works with the bash-completion package loaded${
      shells['bash-completion'].missing ? ` (skipped: ${shells['bash-completion'].missing})` : ''
    }`,
    async () => {
      const answers = await bashCompletions(
        script,
        ['cairn backup --exclude-file ', 'cairn --repo=b', 'cairn init --preset b', 'cairn res'],
        { cwd: work, bashCompletion: shells['bash-completion'].path! },
      );
      expect(answers.map(sorted)).toEqual([FILES, ['beta'], ['backup', 'builds'], ['restore']]);
    },
  );

  it('completes an option or alias added to the declarations with no other change', async () => {
    const program = buildProgram(async () => {});
    const command = (name: string) => program.commands.find((c) => c.name() === name)!;
    command('backup').option('--frobnicate-list <file>', 'a new option');
    command('restore').alias('rs');
    const path = join(scripts, 'extended.bash');
    await writeFile(path, bashScript(completionSpec(program)));
    const answers = await bashCompletions(
      path,
      ['cairn backup --frob', 'cairn backup --frobnicate-list ', 'cairn rs', 'cairn rs --ov'],
      { cwd: work },
    );
    expect(answers.map(sorted)).toEqual([['--frobnicate-list'], FILES, ['rs'], ['--overwrite']]);
  });
});

const zsh = shells.zsh;
describe.skipIf(zsh.missing)(`zsh${zsh.missing ? ` (skipped: ${zsh.missing})` : ''}`, () => {
  let script: string;
  beforeAll(async () => {
    const r = await cli('completion', 'zsh');
    expect(r.code).toBe(0);
    script = r.stdout;
  });
  const complete = (mode: 'fpath' | 'source', ...lines: string[]) =>
    zshCompletions(zsh.path!, script, lines, { cwd: work, outDir: scripts, mode });

  it('autoloaded from $fpath: commands with descriptions, choices, files, options', async () => {
    const [res, all, preset, overwrite, key, excludeFile, target, tag, globals, repo, help] =
      await complete(
        'fpath',
        'cairn res',
        'cairn ',
        'cairn init --preset b',
        'cairn restore latest --overwrite ',
        'cairn key ',
        'cairn backup --exclude-file ',
        'cairn restore latest --target ',
        'cairn backup --tag ',
        'cairn backup --re',
        'cairn --repo=b',
        'cairn help re',
      );
    expect(res).toEqual([{ word: 'restore', description: 'restore a snapshot into a directory' }]);
    expect(words(all!)).toEqual(sorted(COMMANDS));
    expect(all).toContainEqual({ word: 'init', description: 'create a repository' });
    expect(words(preset!)).toEqual(['backup', 'builds']);
    expect(words(overwrite!)).toEqual(['always', 'changed', 'never']);
    expect(words(key!)).toEqual(['add', 'list', 'passwd', 'remove']);
    expect(words(excludeFile!)).toEqual(FILES);
    expect(words(target!)).toEqual(['beta']);
    expect(tag).toEqual([]);
    expect(words(globals!)).toEqual(['--repo']);
    expect(words(repo!)).toEqual(['beta']);
    expect(words(help!)).toEqual(['repair', 'restore', 'rewrite']);
  });

  it('sourced after compinit: arguments by position, subcommands, after --', async () => {
    const [res, ls, lsPath, sync, repair, snapshotsOptions, afterDashes, shell] = await complete(
      'source',
      'cairn res',
      'cairn ls ',
      'cairn ls latest ',
      'cairn sync ',
      'cairn repair ',
      'cairn repair snapshots --dr',
      'cairn backup -- ',
      'cairn completion ',
    );
    expect(words(res!)).toEqual(['restore']);
    expect(words(ls!)).toEqual(['latest']);
    expect(words(lsPath!)).toEqual(FILES);
    expect(words(sync!)).toEqual(['beta']);
    expect(words(repair!)).toEqual(['help', 'snapshots']);
    expect(words(snapshotsOptions!)).toEqual(['--dry-run']);
    expect(words(afterDashes!)).toEqual(FILES);
    expect(words(shell!)).toEqual(['bash', 'fish', 'zsh']);
  });

  it('goes on after a global option given after the command', async () => {
    const [afterQuiet, afterRepo, afterRepoEq, nested] = await complete(
      'fpath',
      'cairn backup -q al',
      'cairn restore -r beta lat',
      'cairn backup --repo=beta --dry',
      'cairn repair snapshots -r beta --dr',
    );
    expect(words(afterQuiet!)).toEqual(['alpha.txt']);
    expect(words(afterRepo!)).toEqual(['latest']);
    expect(words(afterRepoEq!)).toEqual(['--dry-run']);
    expect(words(nested!)).toEqual(['--dry-run']);
  });
});

const fish = shells.fish;
describe.skipIf(fish.missing)(`fish${fish.missing ? ` (skipped: ${fish.missing})` : ''}`, () => {
  let script: string;
  beforeAll(async () => {
    script = await scriptFile('fish');
  });
  const complete = (...lines: string[]) =>
    fishCompletions(fish.path!, script, lines, { cwd: work });

  it('completes commands with descriptions, choices and fixed words', async () => {
    const [res, all, preset, overwrite, key, cat, ls, forget] = await complete(
      'cairn res',
      'cairn ',
      'cairn init --preset b',
      'cairn restore latest --overwrite ',
      'cairn key ',
      'cairn cat ',
      'cairn ls ',
      'cairn forget ',
    );
    expect(res).toEqual([{ word: 'restore', description: 'restore a snapshot into a directory' }]);
    expect(words(all!)).toEqual(sorted(COMMANDS));
    expect(words(preset!)).toEqual(['backup', 'builds']);
    expect(words(overwrite!)).toEqual(['always', 'changed', 'never']);
    expect(words(key!)).toEqual(['add', 'list', 'passwd', 'remove']);
    expect(words(cat!)).toEqual(['blob', 'config', 'snapshot', 'tree']);
    expect(words(ls!)).toEqual(['latest']);
    expect(forget).toEqual([]);
  });

  it('completes files and directories where asked, nothing for other values', async () => {
    const [excludeFile, equals, target, repo, sync, backup, tag, keepLast] = await complete(
      'cairn backup --exclude-file ',
      'cairn backup --exclude-file=ex',
      'cairn restore latest --target ',
      'cairn --repo=b',
      'cairn sync ',
      'cairn backup ',
      'cairn backup --tag ',
      'cairn forget --keep-last ',
    );
    const fishFiles = ['alpha.txt', 'beta/', 'excludes.list'];
    expect(words(excludeFile!)).toEqual(fishFiles);
    expect(words(equals!)).toEqual(['--exclude-file=excludes.list']);
    expect(words(target!)).toEqual(['beta/']);
    expect(words(repo!)).toEqual(['--repo=beta/']);
    expect(words(sync!)).toEqual(['beta/']);
    expect(words(backup!)).toEqual(fishFiles);
    expect(tag).toEqual([]);
    expect(keepLast).toEqual([]);
  });

  it('knows the command after an option value, and nested commands apart', async () => {
    const [afterValue, afterLongValue, globals, nested, topLevel] = await complete(
      'cairn -r beta res',
      'cairn --repo beta res',
      'cairn backup --re',
      'cairn repair snapshots --la',
      'cairn snapshots --la',
    );
    expect(words(afterValue!)).toEqual(['restore']);
    expect(words(afterLongValue!)).toEqual(['restore']);
    expect(words(globals!)).toEqual(['--repo']);
    // --latest is an option of `snapshots`, not of `repair snapshots`
    expect(nested).toEqual([]);
    expect(words(topLevel!)).toEqual(['--latest']);
  });

  it('reads short options with fish 4 globbing (qmark-noglob)', async () => {
    const answers = await fishCompletions(
      fish.path!,
      script,
      ['cairn -q back', 'cairn -r beta res', 'cairn restore -r beta lat'],
      { cwd: work, features: 'qmark-noglob' },
    );
    expect(answers.map(words)).toEqual([['backup'], ['restore'], ['latest']]);
  });
});
