# bash-direct.bash SCRIPT LINE...: for each LINE, calls the completion function of
# SCRIPT as `complete -F` does, with the words split as readline splits them with the
# default COMP_WORDBREAKS (at blanks, with = and : as words of their own), and prints
# COMPREPLY, one candidate a line, then @@end@@. With WITH_BASH_COMPLETION set, that
# script (bash-completion's) is sourced first.
script=$1
shift
if [[ -n ${WITH_BASH_COMPLETION-} ]]; then source "$WITH_BASH_COMPLETION"; fi
source "$script"
for line in "$@"; do
  COMP_WORDS=()
  word=''
  for ((k = 0; k < ${#line}; k++)); do
    c=${line:k:1}
    case $c in
      ' ')
        if [[ -n $word ]]; then COMP_WORDS+=("$word"); fi
        word=''
        ;;
      '=' | ':')
        if [[ -n $word ]]; then COMP_WORDS+=("$word"); fi
        COMP_WORDS+=("$c")
        word=''
        ;;
      *) word+=$c ;;
    esac
  done
  # After a = or :, that character is the last word, and readline's word is empty.
  typed=$word
  if [[ $line != *[=:] ]]; then COMP_WORDS+=("$word"); fi
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE=$line
  COMP_POINT=${#line}
  COMPREPLY=()
  _cairn cairn "$typed" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}"
  echo '@@end@@'
done
