/**
 * Asks a real shell what it completes for command lines, given a completion script. The
 * shell code is in shell-drivers/:
 *
 * - bash, directly (bash-direct.bash): the script's function is called as `complete -F`
 *   calls it, with COMP_WORDS split as readline splits them;
 * - bash through readline (bash-readline.bash): an interactive bash on a
 *   pseudo-terminal (script(1)) types each line and Tab, and a wrapper registered in
 *   place of the script's function records what it returned; this checks the
 *   splitting of the direct calls too;
 * - zsh (zsh-driver.zsh, zsh-setup.zsh): an interactive `zsh -f` on a zsh/zpty
 *   pseudo-terminal, after `compinit`, with Tab bound to a completion widget that runs
 *   the completion system and records every match added, with its description;
 * - fish (fish-driver.fish): `complete -C LINE`, fish's own candidates.
 *
 * Each runs every line in one shell process, in `cwd`, and returns the candidates of
 * each line in order. Every answer ends with an @@end@@ line.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DRIVERS = join(import.meta.dirname, 'shell-drivers');
const END = '@@end@@';

/** One candidate: what would be inserted, and the description shown with it, if any. */
export interface Candidate {
  word: string;
  description?: string;
}

/** Splits `output` at END lines into the answers to `count` lines. */
function answers(output: string, count: number): string[][] {
  const result: string[][] = [[]];
  for (const line of output.split('\n')) {
    if (line === END) result.push([]);
    else if (line !== '') result.at(-1)!.push(line);
  }
  result.pop();
  if (result.length !== count) {
    throw new Error(`expected ${count} answers, got ${result.length}:\n${output}`);
  }
  return result;
}

/** bash, calling the function directly; `bashCompletion` is sourced first if given. */
export async function bashCompletions(
  scriptPath: string,
  lines: string[],
  options: { cwd: string; bashCompletion?: string },
): Promise<string[][]> {
  const { stdout } = await run(
    'bash',
    ['--norc', '--noprofile', join(DRIVERS, 'bash-direct.bash'), scriptPath, ...lines],
    {
      cwd: options.cwd,
      env: { ...process.env, WITH_BASH_COMPLETION: options.bashCompletion ?? '' },
    },
  );
  return answers(stdout, lines.length);
}

/**
 * bash through readline. Each line is typed with Tab and Ctrl-U (which clears the
 * line) once the answer to the one before is in.
 */
export async function bashReadlineCompletions(
  scriptPath: string,
  lines: string[],
  options: { cwd: string; outDir: string },
): Promise<string[][]> {
  const out = join(options.outDir, 'bash-answers');
  await writeFile(out, '');
  // script(1) gives bash a pseudo-terminal, and so readline, and forwards its stdin.
  const child = spawn('script', ['-qfec', 'bash --norc --noprofile -i', '/dev/null'], {
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, PS1: '$ ', CAIRN_BASH_SCRIPT: scriptPath, CAIRN_BASH_OUT: out },
  });
  let screen = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    screen += text;
  });
  try {
    child.stdin.write(`source '${join(DRIVERS, 'bash-readline.bash')}'\n`);
    await waitFor(
      () => screen.includes('@@prompt@@'),
      () => 'prompt after the setup',
    );
    for (const [index, line] of lines.entries()) {
      child.stdin.write(`${line}\t\x15`);
      await waitForAnswers(out, index + 1, line);
    }
    return answers(await readFile(out, 'utf8'), lines.length);
  } finally {
    child.stdin.end('exit\n');
    child.kill();
  }
}

async function waitForAnswers(file: string, count: number, line: string): Promise<void> {
  let text = '';
  await waitFor(
    async () => {
      text = await readFile(file, 'utf8');
      return text.split('\n').filter((l) => l === END).length >= count;
    },
    () => `completion of ${JSON.stringify(line)} (answers so far:\n${text})`,
  );
}

async function waitFor(done: () => boolean | Promise<boolean>, what: () => string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`no ${what()} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * zsh, with the script installed as `_cairn` in a directory of $fpath before compinit
 * (`fpath`: autoloaded) or sourced after compinit (`source`).
 */
export async function zshCompletions(
  zsh: string,
  script: string,
  lines: string[],
  options: { cwd: string; outDir: string; mode: 'fpath' | 'source' },
): Promise<Candidate[][]> {
  const out = join(options.outDir, 'zsh-answers');
  await writeFile(join(options.outDir, '_cairn'), script);
  await writeFile(out, '');
  await run(zsh, ['-f', join(DRIVERS, 'zsh-driver.zsh'), ...lines], {
    cwd: options.cwd,
    env: {
      ...process.env,
      CAIRN_ZSH_OUT: out,
      CAIRN_ZSH_DIR: options.outDir,
      CAIRN_ZSH_MODE: options.mode,
      CAIRN_ZSH_SETUP: join(DRIVERS, 'zsh-setup.zsh'),
    },
    timeout: 60_000,
  });
  return answers(await readFile(out, 'utf8'), lines.length).map((answer) => {
    // zsh displays `word  -- description`.
    const descriptions = new Map(
      answer
        .filter((l) => l.startsWith('DISPLAY '))
        .map((l) => {
          const [word, ...rest] = l.slice('DISPLAY '.length).split(/\s+--\s+/);
          return [word!.trim(), rest.join(' -- ')] as const;
        }),
    );
    const words = new Set(answer.filter((l) => !l.startsWith('DISPLAY ')));
    return [...words].map((word) => {
      const description = descriptions.get(word);
      return description === undefined ? { word } : { word, description };
    });
  });
}

/** fish; `features` are fish's feature flags (`--features`). */
export async function fishCompletions(
  fish: string,
  scriptPath: string,
  lines: string[],
  options: { cwd: string; features?: string },
): Promise<Candidate[][]> {
  const features = options.features ? ['--features', options.features] : [];
  const { stdout } = await run(
    fish,
    ['--no-config', ...features, join(DRIVERS, 'fish-driver.fish'), scriptPath, ...lines],
    { cwd: options.cwd },
  );
  return answers(stdout, lines.length).map((answer) =>
    answer.map((line) => {
      const [word, description] = line.split('\t');
      return description === undefined ? { word: word! } : { word: word!, description };
    }),
  );
}
