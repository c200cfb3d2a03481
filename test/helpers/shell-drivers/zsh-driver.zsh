# zsh -f zsh-driver.zsh LINE...: starts an interactive zsh on a pseudo-terminal, sources
# $CAIRN_ZSH_SETUP in it, then types each LINE, Tab and Ctrl-U, waiting for each answer
# to reach $CAIRN_ZSH_OUT before the next.
zmodload zsh/zpty
zpty cairn zsh -f -i
zpty -w cairn "source ${(q)CAIRN_ZSH_SETUP}"
zpty -r cairn _ '*@@prompt@@*'
integer asked=0 tries
local -a answered
for line in "$@"; do
  zpty -w -n cairn "$line"$'\t\x15'
  (( asked++ ))
  tries=0
  while true; do
    answered=(${(M)${(f)"$(<$CAIRN_ZSH_OUT)"}:#@@end@@})
    (( ${#answered} >= asked )) && break
    if (( ++tries > 500 )); then
      print -u2 "no completion for ${(q)line} within 10 s"
      exit 1
    fi
    sleep 0.02
  done
done
zpty -d cairn
