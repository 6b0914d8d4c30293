#!/usr/bin/env bash
# The few-shot transfer experiment on BACKBONE's full-data bank (banks/BACKBONE-full, built by banks/build-full.sh):
# 4 held-out targets of 4 kinds, 16 and 32 shots, 5 seeds, the whole test split (up to 1,000 examples); random,
# vocab and every transfer strategy on the same 30-step budget, and (in seeds 0-1) the target trained from every
# source, for the gain matrix, the best single source and the similarity correlations. Every cell is saved as
# it finishes: rerun the same command to continue. (The PPT inits have their own experiment, reports/ppt/run.sh.)
#   usage: reports/transfer/run.sh BACKBONE [SHOTS...]   (default: 16 32, side by side, one thread each)
set -euo pipefail
cd "$(dirname "$0")/../.."
backbone=${1:?usage: reports/transfer/run.sh BACKBONE [SHOTS...]}
shift
targets=rotten_tomatoes,presuppositions_nli,intent_recognition,social_iqa
export OMP_NUM_THREADS=1
for shots in "${@:-16 32}"; do
    for s in $shots; do
        .venv/bin/promptbank experiment matrix --bank "banks/$backbone-full" --backbone "$backbone" \
            --targets $targets --seeds 5 --shots "$s" --steps 30 --eval-every 5 \
            --strategies vocab,weighted-average,best-of-k,mixture --k 3 --by zero-shot --per-source-seeds 2 \
            --test-size 1000 --out "reports/transfer/$backbone-$s-shot" &
    done
done
wait
