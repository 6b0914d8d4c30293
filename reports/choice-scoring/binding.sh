#!/usr/bin/env bash
# Does a prompt learn to read lettered options, or only a fixed label-to-letter map? The learnable.sh run of
# rotten_tomatoes:letters, repeated with the two answer words in a shuffled order per example (shuffled_task.py), so
# the right letter is A or B at random: the same examples, split, budget (whole training split, 500 steps of batch
# 8, dev of 200 every 25, no early stop, seed 0) and backbone. The generated task is not committed (rebuilt by this).
# STEP=relative [LR=RATE] as in learnable.sh.
#   usage: [STEP=relative [LR=RATE]] reports/choice-scoring/binding.sh [TASK [BACKBONE]]
#   (default: rotten_tomatoes smollm2-135m)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
task=${1:-rotten_tomatoes}
backbone=${2:-smollm2-135m}
. banks/step-settings.sh
spec="reports/choice-scoring/tasks/$task-shuffled"
.venv/bin/python reports/choice-scoring/shuffled_task.py "$task" "$spec"
out="reports/choice-scoring/$backbone-learnable/$task-shuffled-letters$suffix"
[ -e "$out" ] || .venv/bin/promptbank train --task "$spec/task.json:letters" --backbone "$backbone" --shots all \
    --dev-size 200 --steps 500 --eval-every 25 --patience 0 --test-size 1000 --seed 0 --no-store --out "$out" \
    "${step_args[@]}"
