/**
 * The program's commands, options and arguments as plain data for the completion
 * scripts, read from the commander declarations in src/cli/main.ts: a command or option
 * declared there completes with no change here. What each value completes with comes
 * from value-names.ts.
 */
import type { Argument, Command, Help, Option } from 'commander';
import { type ValueCompletion, valueCompletion } from './value-names.js';

/** One option of a command. */
export interface OptionSpec {
  /** `--repo`; undefined for an option with only a short form. */
  long?: string;
  /** `-r`; undefined for an option with only a long form. */
  short?: string;
  description: string;
  /**
   * What its value completes with; undefined for an option that takes none. An optional
   * value (`--opt [x]`) is completed like a required one: commander takes the next word
   * for it too, unless that word starts with `-`.
   */
  value?: ValueCompletion;
  /** The name of its value, `location` for `--repo <location>`. */
  valueName?: string;
}

/** One positional argument of a command. */
export interface ArgumentSpec {
  name: string;
  description: string;
  /** `<snapshot>`, not `[path]`. */
  required: boolean;
  /** The last argument may repeat (`[path...]`). */
  variadic: boolean;
  value: ValueCompletion;
}

/** A command, or the program itself at the root. */
export interface CommandSpec {
  name: string;
  aliases: string[];
  description: string;
  /**
   * Its own options. The root's are the global ones, which commander also takes after
   * any command; a command's own copy of one (commander gives each its `--help`) is left
   * out.
   */
  options: OptionSpec[];
  arguments: ArgumentSpec[];
  commands: CommandSpec[];
}

/** The completion description of `program`. */
export function completionSpec(program: Command): CommandSpec {
  const help = program.createHelp();
  const globals = help.visibleOptions(program);
  return describeCommand(program, help, [], new Set(globals.flatMap(flagsOf)));
}

function describeCommand(
  command: Command,
  help: Help,
  siblings: readonly string[],
  globalFlags: ReadonlySet<string>,
): CommandSpec {
  // Help's lists, not command.commands and command.options: they hold commander's own
  // `help` command and `--help` option and leave out what is hidden (`--no-color`).
  const subcommands = help.visibleCommands(command);
  const names = subcommands.map((c) => c.name()).filter((name) => name !== 'help');
  const isRoot = command.parent === null;
  return {
    name: command.name(),
    aliases: command.aliases(),
    description: command.description(),
    options: help
      .visibleOptions(command)
      .filter((option) => isRoot || !flagsOf(option).some((flag) => globalFlags.has(flag)))
      .map((option) => describeOption(option, names)),
    arguments: command.registeredArguments.map((argument) => describeArgument(argument, siblings)),
    commands: subcommands.map((c) => describeCommand(c, help, names, globalFlags)),
  };
}

function describeOption(option: Option, commands: readonly string[]): OptionSpec {
  const takesValue = option.required || option.optional;
  const name = placeholderOf(option);
  return {
    ...(option.long !== undefined ? { long: option.long } : {}),
    ...(option.short !== undefined ? { short: option.short } : {}),
    description: option.description,
    ...(takesValue
      ? {
          value: valueCompletion(name, option.argChoices, commands),
          valueName: name,
        }
      : {}),
  };
}

function describeArgument(argument: Argument, commands: readonly string[]): ArgumentSpec {
  return {
    name: argument.name(),
    description: argument.description,
    required: argument.required,
    variadic: argument.variadic,
    value: valueCompletion(argument.name(), argument.argChoices, commands),
  };
}

/** `location` of `-r, --repo <location>` (commander keeps no name for an option's value). */
function placeholderOf(option: Option): string {
  const match = /[<[]([^>\]]*)[>\]]/.exec(option.flags);
  return (match?.[1] ?? '').replace(/\.\.\.$/, '');
}

function flagsOf(option: Option): string[] {
  return [option.long, option.short].filter((flag): flag is string => flag !== undefined);
}
