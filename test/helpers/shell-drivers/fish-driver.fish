# fish --no-config fish-driver.fish SCRIPT LINE...: loads SCRIPT, then prints fish's
# candidates for each LINE (word, tab, description), then @@end@@.
source $argv[1]
for line in $argv[2..-1]
    complete -C $line
    echo '@@end@@'
end
