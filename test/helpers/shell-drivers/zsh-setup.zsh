# Sourced by the interactive zsh on the pseudo-terminal: compinit, with the script
# autoloaded from $fpath ($CAIRN_ZSH_MODE fpath: $CAIRN_ZSH_DIR/_cairn) or sourced after
# compinit (source); then Tab runs a completion widget that appends every match added
# (and the display strings, which carry the descriptions, as "DISPLAY ...") and then
# @@end@@ to $CAIRN_ZSH_OUT. The prompt then says @@prompt@@: the line editor is
# reading (keys typed before it starts may be discarded when it sets up the terminal).
autoload -Uz compinit
if [[ $CAIRN_ZSH_MODE == fpath ]]; then
  fpath=($CAIRN_ZSH_DIR $fpath)
  compinit -u -D
else
  compinit -u -D
  source $CAIRN_ZSH_DIR/_cairn
fi
typeset -ga __captured
# Calls that only ask (-O, -A, -D) add nothing: they pass through.
compadd() {
  if (( ${@[(I)-[OAD]]} )); then
    builtin compadd "$@"
    return
  fi
  local -a matched
  builtin compadd -O matched "$@"
  __captured+=("${matched[@]}")
  local i=${@[(i)-d]} name
  if (( i < $# )); then
    name=${@[i+1]}
    __captured+=("${(@)${(@P)name}/#/DISPLAY }")
  fi
  builtin compadd "$@"
}
__capture() {
  __captured=()
  _main_complete
  print -rl -- "${__captured[@]}" '@@end@@' >> $CAIRN_ZSH_OUT
  # Insert and list nothing: the next line typed starts clean after Ctrl-U.
  compstate[insert]=''
  compstate[list]=''
}
zle -C capture-complete complete-word __capture
bindkey '^I' capture-complete
PS1='@@prompt@@ '
