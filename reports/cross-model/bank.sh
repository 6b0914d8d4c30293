# Sourced by run.sh and loo.sh: the experiment bank (reports/cross-model/bank), into which each backbone's full-data
# bank comes once (its marker), as a whole. With suffix set before sourcing (loo.sh's, from banks/step-settings.sh:
# -relative, -relative-lr0.02, ...), a backbone's banks/<backbone>-full<suffix> is imported where it exists (else
# banks/<backbone>-full), into an experiment bank of its own (reports/cross-model/bank<suffix>).
#   usage: import_banks BACKBONE...
here=reports/cross-model
suffix=${suffix:-}
bank=$here/bank$suffix
pb=.venv/bin/promptbank
import_banks() {
    for b in "$@"; do
        [ -e "$bank/.imported-$b" ] && continue
        from=banks/$b-full$suffix
        [ -d "$from" ] || from=banks/$b-full
        $pb bank export --bank "$from" --out "$here/$b.tar.gz"
        $pb bank import "$here/$b.tar.gz" --bank "$bank"
        rm "$here/$b.tar.gz"
        touch "$bank/.imported-$b"
    done
}
