#!/usr/bin/env bash
# What the transfer and PPT experiments share, so their random-init runs have the same settings: `experiment
# matrix` on BACKBONE's full-data bank (banks/BACKBONE-full), 4 held-out targets of 4 kinds, 5 seeds, the same
# 30-step budget, the whole test split (up to 1,000 examples), one run per shot count, side by side with one
# thread each, into reports/NAME/BACKBONE-SHOTS-shot. The remaining arguments (the inits) go to every run.
# Every cell is saved as it finishes: the same command continues a stopped run.
#   usage: reports/few-shot.sh NAME BACKBONE "SHOTS..." [matrix options...]
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 backbone=$2 shots=$3
shift 3
export OMP_NUM_THREADS=1
for s in $shots; do
    .venv/bin/promptbank experiment matrix --bank "banks/$backbone-full" --backbone "$backbone" \
        --targets rotten_tomatoes,presuppositions_nli,intent_recognition,social_iqa --seeds 5 --shots "$s" \
        --steps 30 --eval-every 5 --test-size 1000 --out "reports/$name/$backbone-$s-shot" "$@" &
done
wait
