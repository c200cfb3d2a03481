/**
 * `cairn completion bash|zsh|fish`: a completion script for the shell on stdout, made
 * from the program's own declarations (src/cli/completion/). The script never runs
 * cairn and never reads a repository; neither does this command.
 */
import { UsageError } from '../../core/errors.js';
import { bashScript } from '../completion/bash.js';
import { fishScript } from '../completion/fish.js';
import type { CompletionShell } from '../completion/shells.js';
import { type CommandSpec, completionSpec } from '../completion/spec.js';
import { zshScript } from '../completion/zsh.js';
import { type CommandContext, EXIT } from '../context.js';
import { buildProgram } from '../main.js';

const RENDERERS: Record<CompletionShell, (spec: CommandSpec) => string> = {
  bash: bashScript,
  zsh: zshScript,
  fish: fishScript,
};

export default async function completion(
  ctx: CommandContext,
  shell: CompletionShell,
): Promise<number> {
  if (ctx.globals.json) {
    throw new UsageError(
      'completion writes a shell script to standard output: --json does not apply',
    );
  }
  // A program of its own, with actions that never run: only its declarations are read.
  const program = buildProgram(async () => {});
  await ctx.out.write(RENDERERS[shell](completionSpec(program)));
  return EXIT.ok;
}
