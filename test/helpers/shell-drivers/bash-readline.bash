# Sourced by an interactive bash: loads $CAIRN_BASH_SCRIPT, then registers a wrapper
# of its function that appends what it returns (then @@end@@) to $CAIRN_BASH_OUT and
# returns nothing, so the typed line stays as it was. The prompt then says @@prompt@@:
# readline is reading (keys typed before it sets up the terminal may be discarded).
source "$CAIRN_BASH_SCRIPT"
_cairn_capture() {
  _cairn "$@"
  {
    printf '%s\n' "${COMPREPLY[@]}"
    echo '@@end@@'
  } >>"$CAIRN_BASH_OUT"
  COMPREPLY=()
}
complete -F _cairn_capture cairn
PS1='@@prompt@@ '
