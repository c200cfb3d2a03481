/**
 * The fish completion script: `complete -c cairn` lines, each under a condition on where
 * the cursor is. fish's own `__fish_use_subcommand` and `__fish_seen_subcommand_from`
 * cannot tell a command from the value of an option before it (`cairn -r DIR restore`)
 * nor `cairn snapshots` from `cairn repair snapshots`, and count no positional
 * arguments; so the script walks the line as commander does (`__cairn_position`), from
 * two tables the spec fills in: the subcommands of each command and the options that
 * take a value.
 */
import type { CommandSpec, OptionSpec } from './spec.js';
import type { ValueCompletion } from './value-names.js';

export function fishScript(spec: CommandSpec): string {
  const prog = spec.name;
  const subcommands: string[] = [];
  const valueOptions: string[] = [];
  const completions: string[] = [];
  addCommand(spec, prog, { subcommands, valueOptions, completions }, prog);
  return `# fish completion for ${prog}, written by \`${prog} completion fish\` from ${prog}'s own
# command declarations. Install: ${prog} completion fish > ~/.config/fish/completions/${prog}.fish

# The subcommand WORD names at command PATH ('${prog}', '${prog} repair'...), if any.
function __${prog}_subcommand --argument-names path word
    switch "$path $word"
${subcommands.join('\n')}
        case '*'
            return 1
    end
end

# Whether OPTION takes a value at command PATH (${prog}'s own options do everywhere).
function __${prog}_takes_value --argument-names path option
    switch "$path $option"
        case ${valueOptions.join(' \\\n            ')}
            return 0
    end
    return 1
end

# The command path at the cursor and how many arguments it has before it, a line each.
# Every condition below asks, so the answer for the last line is kept.
function __${prog}_position
    set -l words (commandline -opc)
    set -l line (string escape -- $words | string join ' ')
    if test "$line" = "$__${prog}_position_line"
        printf '%s\n' $__${prog}_position_answer
        return
    end
    set -e words[1]
    set -l path ${prog}
    set -l count 0
    set -l value 0
    set -l ended 0
    set -l name
    for word in $words
        if test $value = 1
            set value 0 # the value of the option before
        else if test $ended = 1
            set count (math $count + 1)
        else if string match -qr -- '^-[^-]' $word
            # Short options run together (-nv); one that takes a value takes the rest of
            # the word, or the next word. (A regex, not the glob '-?*': fish 4 takes ? in
            # a glob literally by default.)
            set -l chars (string split '' -- (string sub -s 2 -- $word))
            for i in (seq (count $chars))
                if __${prog}_takes_value "$path" -$chars[$i]
                    test $i = (count $chars); and set value 1
                    break
                end
            end
        else
            switch $word
                case --
                    set ended 1
                case '--*=*'
                case '--*'
                    __${prog}_takes_value "$path" $word; and set value 1
                case '*'
                    if test $count = 0; and set name (__${prog}_subcommand "$path" $word)
                        set path "$path $name"
                    else
                        set count (math $count + 1)
                    end
            end
        end
    end
    set -g __${prog}_position_line $line
    set -g __${prog}_position_answer $path $count
    printf '%s\n' $path $count
end

# At command PATH, where its subcommand goes.
function __${prog}_needs_command --argument-names path
    set -l position (__${prog}_position)
    test "$position[1]" = "$path" -a "$position[2]" = 0
end

# At command PATH, options and arguments alike.
function __${prog}_in --argument-names path
    set -l position (__${prog}_position)
    test "$position[1]" = "$path"
end

# At argument INDEX (from 0) of command PATH; with a third word, at INDEX or after.
function __${prog}_argument --argument-names path index repeats
    set -l position (__${prog}_position)
    test "$position[1]" = "$path"; or return 1
    if test -n "$repeats"
        test $position[2] -ge $index
    else
        test $position[2] = $index
    end
end

# No file names unless an option or argument asks for them.
complete -c ${prog} -f
${completions.join('\n')}
`;
}

interface Out {
  subcommands: string[];
  valueOptions: string[];
  completions: string[];
}

function addCommand(command: CommandSpec, path: string, out: Out, prog: string): void {
  const isRoot = path === prog;
  // Global options apply everywhere: no condition.
  const where = isRoot ? '' : ` -n ${quote(`__${prog}_in ${quote(path)}`)}`;
  for (const option of command.options) {
    out.completions.push(`complete -c ${prog}${where}${optionFlags(option)}`);
    for (const flag of [option.short, option.long]) {
      if (flag !== undefined && option.value) {
        out.valueOptions.push(quote(isRoot ? `* ${flag}` : `${path} ${flag}`));
      }
    }
  }
  for (const sub of command.commands) {
    for (const name of [sub.name, ...sub.aliases]) {
      out.subcommands.push(
        `        case ${quote(`${path} ${name}`)}\n            echo ${quote(sub.name)}`,
      );
      out.completions.push(
        `complete -c ${prog} -n ${quote(`__${prog}_needs_command ${quote(path)}`)} -a ${quote(name)} -d ${quote(sub.description)}`,
      );
    }
  }
  command.arguments.forEach((argument, index) => {
    if (argument.value.kind === 'text') return;
    const repeats = argument.variadic ? ' repeats' : '';
    const condition = `__${prog}_argument ${quote(path)} ${index}${repeats}`;
    out.completions.push(
      `complete -c ${prog} -n ${quote(condition)}${valueFlags(argument.value)} -d ${quote(argument.description || argument.name)}`,
    );
  });
  for (const sub of command.commands) addCommand(sub, `${path} ${sub.name}`, out, prog);
}

function optionFlags(option: OptionSpec): string {
  const short = option.short ? ` -s ${option.short.slice(1)}` : '';
  const long = option.long ? ` -l ${option.long.slice(2)}` : '';
  // -r: it takes a value, which fish then completes with what follows; -f: with no
  // file names unless that asks for them (fish offers them after an option otherwise).
  const value = option.value
    ? ` -r${option.value.kind === 'file' ? '' : ' -f'}${valueFlags(option.value)}`
    : '';
  return `${short}${long}${value} -d ${quote(option.description)}`;
}

/** What completes a value: files (-F), fixed words (-a), directories, or nothing. */
function valueFlags(value: ValueCompletion): string {
  switch (value.kind) {
    case 'file':
      return ' -F';
    case 'directory':
      // The value alone: fish puts back the `--repo=` of `--repo=DIR` itself.
      return ` -a ${quote(`(__fish_complete_directories (commandline -ct | string replace -r -- '^--[^=]*=' ''))`)}`;
    case 'text':
      return '';
    case 'words':
      return ` -a ${quote(value.words.map(escapeWord).join(' '))}`;
  }
}

/** A word of a `-a` list, which fish splits at spaces and expands. */
function escapeWord(word: string): string {
  return word.replace(/[^A-Za-z0-9_.,:@%+/=-]/g, (c) => `\\${c}`);
}

function quote(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
