# Sourced by run.sh and loo.sh: the experiment bank (reports/cross-model/bank), into which each backbone's full-data
# bank comes once (its marker), as a whole.
#   usage: import_banks BACKBONE...
here=reports/cross-model
bank=$here/bank
pb=.venv/bin/promptbank
import_banks() {
    for b in "$@"; do
        [ -e "$bank/.imported-$b" ] && continue
        $pb bank export --bank "banks/$b-full" --out "$here/$b.tar.gz"
        $pb bank import "$here/$b.tar.gz" --bank "$bank"
        rm "$here/$b.tar.gz"
        touch "$bank/.imported-$b"
    done
}
