/**
 * The bash completion script: the spec as tables (associative arrays keyed by command
 * path, `cairn` or `cairn repair snapshots`), read by one fixed function, `_cairn`,
 * registered with `complete -F`. It needs bash 4.3 or later and nothing else; when the
 * bash-completion package is loaded, its `_filedir` completes file names (it handles
 * quotes and `~` better than `compgen -f`).
 */
import type { CommandSpec } from './spec.js';
import type { ValueCompletion } from './value-names.js';

/** The tables' rows: key and value, both shell-quoted when written. */
interface Tables {
  commands: Array<[string, string]>;
  aliases: Array<[string, string]>;
  options: Array<[string, string]>;
  values: Array<[string, string]>;
  arguments: Array<[string, string]>;
}

export function bashScript(spec: CommandSpec): string {
  const prog = spec.name;
  // It names the script's functions and tables.
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(prog)) throw new Error(`bash completion: bad name ${prog}`);
  const tables: Tables = { commands: [], aliases: [], options: [], values: [], arguments: [] };
  addCommand(tables, spec, prog);
  return `# bash completion for ${prog}, written by \`${prog} completion bash\` from ${prog}'s own
# command declarations. Load it with: source <(${prog} completion bash)
# or save it as ~/.local/share/bash-completion/completions/${prog}

# Subcommands of each command (by its path: '${prog}', '${prog} repair'...), with aliases.
declare -gA _${prog}_commands=(${rows(tables.commands)})
# An alias's command, by path and alias.
declare -gA _${prog}_aliases=(${rows(tables.aliases)})
# Each command's options; those of '${prog}' are accepted after any command too.
declare -gA _${prog}_options=(${rows(tables.options)})
# What the value of each option that takes one completes with (file, dir, text: nothing,
# or words:WORD...), by path and option.
declare -gA _${prog}_values=(${rows(tables.values)})
# The same for each positional argument, by path and position; '*' is the last one, which
# repeats.
declare -gA _${prog}_arguments=(${rows(tables.arguments)})

${ENGINE.replaceAll('_cairn', `_${prog}`).replaceAll('@PROG@', prog)}
complete -F _${prog} ${prog}
`;
}

function addCommand(tables: Tables, command: CommandSpec, path: string): void {
  if (command.commands.length > 0) {
    const names = command.commands.flatMap((c) => [c.name, ...c.aliases]);
    tables.commands.push([path, names.join(' ')]);
  }
  const flags: string[] = [];
  for (const option of command.options) {
    for (const flag of [option.short, option.long]) {
      if (flag === undefined) continue;
      flags.push(flag);
      if (option.value) tables.values.push([`${path} ${flag}`, valueCode(option.value)]);
    }
  }
  if (flags.length > 0) tables.options.push([path, flags.join(' ')]);
  command.arguments.forEach((argument, index) => {
    const position = argument.variadic ? '*' : String(index);
    tables.arguments.push([`${path} ${position}`, valueCode(argument.value)]);
  });
  for (const sub of command.commands) {
    for (const alias of sub.aliases) tables.aliases.push([`${path} ${alias}`, sub.name]);
    addCommand(tables, sub, `${path} ${sub.name}`);
  }
}

function valueCode(value: ValueCompletion): string {
  switch (value.kind) {
    case 'file':
      return 'file';
    case 'directory':
      return 'dir';
    case 'text':
      return 'text';
    case 'words':
      for (const word of value.words) {
        // The engine splits the list at spaces.
        if (/\s/.test(word) || word === '') {
          throw new Error(`bash completion: cannot offer ${JSON.stringify(word)} as one word`);
        }
      }
      return `words:${value.words.join(' ')}`;
  }
}

function rows(entries: Array<[string, string]>): string {
  if (entries.length === 0) return '';
  return `\n${entries.map(([key, value]) => `  [${quote(key)}]=${quote(value)}`).join('\n')}\n`;
}

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The completion function, which only the tables above change (`_cairn` and `@PROG@`
 * become the program's name). It rebuilds the words as the command will get them, walks
 * them as commander does (options and the values they take, `--`, subcommands,
 * positional arguments), then offers what fits the word under the cursor. (In this
 * template literal, bash's `${` is written `\${` and a backslash `\\`.)
 */
const ENGINE = `# _cairn_value_of VAR PATH OPTION: what OPTION's value completes with at command PATH
# (empty when it takes none).
_cairn_value_of() {
  local own="$2 $3" global="@PROG@ $3"
  printf -v "$1" %s "\${_cairn_values[$own]-\${_cairn_values[$global]-}}"
}

# _cairn_subcommand VAR PATH WORD: the subcommand WORD names at PATH (empty for none).
# (VAR is set with printf -v: no local here may share the caller's name for it.)
_cairn_subcommand() {
  local candidate alias="$2 $3"
  local -a candidates
  read -ra candidates <<<"\${_cairn_commands[$2]-}"
  printf -v "$1" %s ''
  for candidate in "\${candidates[@]}"; do
    if [[ $candidate == "$3" ]]; then
      printf -v "$1" %s "\${_cairn_aliases[$alias]-$3}"
      return
    fi
  done
}

# _cairn_offer KIND PREFIX VALUE: sets COMPREPLY to what KIND offers for VALUE, each
# candidate after PREFIX (--repo= for --repo=VALUE).
_cairn_offer() {
  local kind=$1 prefix=$2 value=$3 word
  local -a list
  case $kind in
    file | dir)
      compopt -o filenames 2>/dev/null
      if declare -F _filedir >/dev/null; then
        # bash-completion's: it reads the word from cur.
        local cur=$value
        if [[ $kind == dir ]]; then _filedir -d; else _filedir; fi
      elif [[ $kind == dir ]]; then
        mapfile -t COMPREPLY < <(compgen -d -- "$value")
      else
        mapfile -t COMPREPLY < <(compgen -f -- "$value")
      fi
      ;;
    words:*)
      read -ra list <<<"\${kind#words:}"
      for word in "\${list[@]}"; do
        [[ $word == "$value"* ]] && COMPREPLY+=("$word")
      done
      ;;
  esac
  if [[ -n $prefix ]]; then COMPREPLY=("\${COMPREPLY[@]/#/"$prefix"}"); fi
}

_cairn() {
  local IFS=$' \\t\\n' line word kind='' ended='' name
  local -a words=()
  local -i i pos=0 spaced arg=0
  COMPREPLY=()
  # Readline also splits words at = and : (COMP_WORDBREAKS): join again what was typed
  # without a space between, as the command will get it (--repo=DIR, tag:NAME).
  if [[ -n \${COMP_LINE-} ]]; then
    line=\${COMP_LINE:0:COMP_POINT}
  else
    line="\${COMP_WORDS[*]:0:COMP_CWORD+1}"
  fi
  for ((i = 0; i <= COMP_CWORD; i++)); do
    spaced=0
    while [[ \${line:pos:1} == [[:space:]] ]]; do
      pos+=1
      spaced=1
    done
    if ((i == COMP_CWORD)); then word=\${line:pos}; else word=\${COMP_WORDS[i]}; fi
    if ((i > 0 && !spaced)); then words[-1]+=$word; else words+=("$word"); fi
    pos+=\${#word}
  done
  local cur=\${words[-1]} path=@PROG@
  for word in "\${words[@]:1:\${#words[@]}-2}"; do
    if [[ -n $kind ]]; then
      kind='' # the value of the option before
      continue
    fi
    if [[ -n $ended ]]; then
      arg+=1
      continue
    fi
    case $word in
      --) ended=1 ;;
      --*=*) ;;
      --*) _cairn_value_of kind "$path" "$word" ;;
      -?*)
        # Short options run together (-nv); one that takes a value takes the rest of
        # the word, or the next word.
        for ((i = 1; i < \${#word}; i++)); do
          _cairn_value_of kind "$path" "-\${word:i:1}"
          if [[ -n $kind ]]; then
            if ((i + 1 < \${#word})); then kind=''; fi
            break
          fi
        done
        ;;
      *)
        name=''
        if ((arg == 0)); then _cairn_subcommand name "$path" "$word"; fi
        if [[ -n $name ]]; then path+=" $name"; else arg+=1; fi
        ;;
    esac
  done

  local prefix='' value=$cur
  if [[ -n $kind ]]; then
    : # the value of the option before
  elif [[ -z $ended && $cur == --*=* ]]; then
    _cairn_value_of kind "$path" "\${cur%%=*}"
    prefix=\${cur%%=*}=
    value=\${cur#*=}
  elif [[ -z $ended && $cur == -* ]]; then
    kind="words:\${_cairn_options[$path]-}"
    if [[ $path != @PROG@ ]]; then kind+=" \${_cairn_options[@PROG@]-}"; fi
  elif [[ -n \${_cairn_commands[$path]-} ]] && ((arg == 0)); then
    kind="words:\${_cairn_commands[$path]}"
  else
    local position="$path $arg" last="$path *"
    kind=\${_cairn_arguments[$position]-\${_cairn_arguments[$last]-}}
  fi
  _cairn_offer "$kind" "$prefix" "$value"

  # Readline replaces only its own word, the part of cur after the last = or : it
  # split at: drop what comes before it. That word as typed, quotes and all, is
  # COMP_WORDS[COMP_CWORD] (bash's $2 has an opening quote removed, one too few).
  # Right after a = or :, that character is COMP_WORDS[COMP_CWORD] and the word is empty.
  local typed=\${COMP_WORDS[COMP_CWORD]-$cur}
  if [[ $typed == [=:] ]]; then typed=''; fi
  local -i cut=$((\${#cur} - \${#typed}))
  if ((cut > 0)); then
    for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]=\${COMPREPLY[i]:cut}; done
  fi
}
`;
