/**
 * The zsh completion script: one function per command, each an `_arguments` call with
 * cairn's global options, the command's own and its positional arguments; a command
 * with subcommands offers them with their descriptions (`_describe`) and hands the rest
 * of the line to the chosen one's function. The file works autoloaded from `$fpath`
 * (`#compdef`) and sourced after `compinit` (it then registers itself with `compdef`).
 */
import type { ArgumentSpec, CommandSpec, OptionSpec } from './spec.js';
import type { ValueCompletion } from './value-names.js';

export function zshScript(spec: CommandSpec): string {
  const prog = spec.name;
  const functions: string[] = [];
  addFunctions(functions, spec, [], prog);
  return `#compdef ${prog}
# zsh completion for ${prog}, written by \`${prog} completion zsh\` from ${prog}'s own command
# declarations. Install it as _${prog} in a directory of $fpath, before compinit runs:
#   ${prog} completion zsh > "\${fpath[1]}/_${prog}"
# or load it after compinit: source <(${prog} completion zsh)

_${prog}() {
  # ${prog}'s own options, which every command accepts too (the functions below see
  # this local through zsh's dynamic scope).
  local -a _${prog}_global_options
  _${prog}_global_options=(
${spec.options.flatMap(optionSpecs).map(indent(4)).join('\n')}
  )
  ${functionName(prog, [])} "$@"
}

${functions.join('\n\n')}

# Autoloaded, this file is the body of _${prog}: complete. Sourced, register.
if [[ \${funcstack[1]-} == _${prog} ]]; then
  _${prog} "$@"
else
  compdef _${prog} ${prog}
fi
`;
}

function addFunctions(out: string[], command: CommandSpec, path: string[], prog: string): void {
  const isRoot = path.length === 0;
  const specs = [
    `"\${_${prog}_global_options[@]}"`,
    ...(isRoot ? [] : command.options.flatMap(optionSpecs)),
  ];
  const name = functionName(prog, path);
  if (command.commands.length === 0) {
    specs.push(...command.arguments.map(argumentSpec).map(quote));
    out.push(`${name}() {
  _arguments -s -S : \\
${specs.map(indent(4)).join(' \\\n')}
}`);
    return;
  }
  const described = command.commands.flatMap((sub) =>
    [sub.name, ...sub.aliases].map((n) => quote(`${backslashed(n, ':')}:${sub.description}`)),
  );
  const branches = command.commands.map(
    (sub) =>
      `        (${[sub.name, ...sub.aliases].map(caseWord).join('|')}) ${functionName(prog, [...path, sub.name])} && ret=0 ;;`,
  );
  const label = [prog, ...path].join(' ');
  out.push(`${name}() {
  local curcontext=$curcontext state state_descr line ret=1
  local -A opt_args
  _arguments -C -s -S -A '-*' : \\
${[...specs, quote('1: :->command'), quote('*:: :->argument')].map(indent(4)).join(' \\\n')} && ret=0
  case $state in
    command)
      local -a commands
      commands=(
${described.map(indent(8)).join('\n')}
      )
      _describe -t commands ${quote(`${label} command`)} commands && ret=0
      ;;
    argument)
      curcontext=\${curcontext%:*:*}:${[prog, ...path].join('-')}-$words[1]:
      case $words[1] in
${branches.join('\n')}
      esac
      ;;
  esac
  return ret
}`);
  for (const sub of command.commands) addFunctions(out, sub, [...path, sub.name], prog);
}

/**
 * The `_arguments` specs of an option, one per spelling, shell-quoted: `*` lets it
 * repeat (commander does not say which may), `+`/`=` let its value follow in the same
 * word or the next.
 */
function optionSpecs(option: OptionSpec): string[] {
  const description = `[${backslashed(option.description, '[]:')}]`;
  const value = option.value
    ? `:${backslashed(option.valueName || 'value', ':')}:${action(option.value)}`
    : '';
  return [
    option.short && `${option.short}${option.value ? '+' : ''}`,
    option.long && `${option.long}${option.value ? '=' : ''}`,
  ]
    .filter((spelling): spelling is string => Boolean(spelling))
    .map((spelling) => quote(`*${spelling}${description}${value}`));
}

function argumentSpec(argument: ArgumentSpec, index: number): string {
  const message = backslashed(argument.description || argument.name, ':');
  // `*::` would mean something else (the rest of the words, narrowed): a repeating
  // argument is `*:` whether it is optional or not.
  if (argument.variadic) return `*:${message}:${action(argument.value)}`;
  return `${index + 1}:${argument.required ? '' : ':'}${message}:${action(argument.value)}`;
}

function action(value: ValueCompletion): string {
  switch (value.kind) {
    case 'file':
      return '_files';
    case 'directory':
      return '_files -/';
    case 'text':
      // A space: show the message, offer nothing.
      return ' ';
    case 'words':
      // Every character that is not plainly a word's is backslashed: _arguments
      // evaluates the list, so a quote, $ or backtick in a choice would run.
      return `(${value.words.map(literalWord).join(' ')})`;
  }
}

function functionName(prog: string, path: string[]): string {
  return [`_${prog}_command`, ...path].join('__').replace(/[^A-Za-z0-9_]/g, '_');
}

/** `text` with a backslash before each of `chars` and before backslashes. */
function backslashed(text: string, chars: string): string {
  return [...text].map((c) => (c === '\\' || chars.includes(c) ? `\\${c}` : c)).join('');
}

/** `word` with a backslash before every character outside [A-Za-z0-9_.,@%+/=-]. */
function literalWord(word: string): string {
  return word.replace(/[^A-Za-z0-9_.,@%+/=-]/g, (c) => `\\${c}`);
}

function caseWord(word: string): string {
  return word.replace(/[^A-Za-z0-9_-]/g, (c) => `\\${c}`);
}

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function indent(spaces: number): (line: string) => string {
  return (line) => ' '.repeat(spaces) + line;
}
