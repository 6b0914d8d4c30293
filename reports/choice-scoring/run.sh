#!/usr/bin/env bash
# Multiple-choice scoring modes on every multiple-choice task that has data: the bare template (no prompt) scored by
# summed log-likelihood, mean log-likelihood per token, and PPT's lettered options, on the validation split (where
# each task's mode is chosen) and the test split (up to 1,000). Tasks are saved as they finish.
#   usage: reports/choice-scoring/run.sh [BACKBONE]   (default: smollm2-135m)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
backbone=${1:-smollm2-135m}
exec .venv/bin/promptbank experiment choice-scoring --backbone "$backbone" \
    --tasks social_iqa,commonsense_qa,piqa,winogrande,openbookqa,arc_easy,sciq --test-size 1000 \
    --out "reports/choice-scoring/$backbone"
