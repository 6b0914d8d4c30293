#!/usr/bin/env bash
# The PPT few-shot experiment: BACKBONE's pre-trained prompts (banks/pretrain.sh, in banks/BACKBONE-full) as inits,
# format-matched (`pretrained`) and unified (`pretrained-unified`), against random and vocab init, on 4 targets of
# 4 formats/kinds (sentiment, NLI pair, intent, multiple choice), 16 and 32 shots, 5 seeds, the whole test split (up
# to 1,000 examples), the same 30-step budget and recipe as the transfer experiment. Every cell is saved as it
# finishes: rerun the same command to continue. No source prompt is involved (`--sources ''`: nothing is scored
# zero-shot), so only the four inits are trained and tested.
#   usage: reports/ppt/run.sh BACKBONE [SHOTS...]   (default: 16 32, side by side, one thread each)
set -euo pipefail
cd "$(dirname "$0")/../.."
backbone=${1:?usage: reports/ppt/run.sh BACKBONE [SHOTS...]}
shift
targets=rotten_tomatoes,presuppositions_nli,intent_recognition,social_iqa
export OMP_NUM_THREADS=1
for shots in "${@:-16 32}"; do
    for s in $shots; do
        .venv/bin/promptbank experiment matrix --bank "banks/$backbone-full" --backbone "$backbone" \
            --targets $targets --seeds 5 --shots "$s" --steps 30 --eval-every 5 \
            --sources '' --strategies vocab,pretrained,pretrained-unified --no-per-source \
            --test-size 1000 --out "reports/ppt/$backbone-$s-shot" &
    done
done
wait
