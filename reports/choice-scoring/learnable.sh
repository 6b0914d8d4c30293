#!/usr/bin/env bash
# Can a soft prompt learn PPT's lettered answers on this backbone? A random-init prompt trained on a task's whole
# training split, its choices lettered ("(A) bad (B) good ... The correct one is", the letter scored): 500 steps of
# batch 8, dev (200 validation examples) every 25 steps with no early stop, seed 0, the whole test split (up to
# 1,000). The full-data transfer run (reports/task-vectors/full-data.sh) trained the same task, unlettered, with the
# same budget. Each task's prompt and curve go to reports/choice-scoring/BACKBONE-learnable/TASK-letters; a task
# already there is skipped. STEP=relative [LR=RATE] trains with scale-relative steps (what Gemma-3-270M's prompts need
# to move from their init, reports/README.md) into a folder named for them.
#   usage: [STEP=relative [LR=RATE]] reports/choice-scoring/learnable.sh [TASKS [BACKBONE]]
#   (default: rotten_tomatoes smollm2-135m)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
tasks=${1:-rotten_tomatoes}
backbone=${2:-smollm2-135m}
. banks/step-settings.sh
for task in ${tasks//,/ }; do
    out="reports/choice-scoring/$backbone-learnable/$task-letters$suffix"
    [ -e "$out" ] && continue
    .venv/bin/promptbank train --task "$task:letters" --backbone "$backbone" --shots all --dev-size 200 \
        --steps 500 --eval-every 25 --patience 0 --test-size 1000 --seed 0 --no-store --out "$out" \
        "${step_args[@]}"
done
